# Sourced by the launch tests: free_port prints a tcp port nothing listens on now (random in
# 20000-59999, checked with ss).
free_port() {
  local p
  while :; do
    p=$(shuf -i 20000-59999 -n 1)
    ss -Hltn "sport = :$p" 2>/dev/null | grep -q . || { echo "$p"; return; }
  done
}
