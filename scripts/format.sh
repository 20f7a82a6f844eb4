#!/usr/bin/env bash
# The committed .clang-format is the style. `scripts/format.sh` formats every tracked C++ file in
# place; `scripts/format.sh --check` changes nothing and fails, naming the files, if any is not in
# the style (scripts/test.sh runs the check first, so CI refuses drift).
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.h' '*.cc')
if [ "${1:-}" = "--check" ]; then
  if ! clang-format --dry-run -Werror "${files[@]}" 2>/tmp/troupe-format.$$; then
    grep -o '^[^:]*\.\(cpp\|hpp\|h\|cc\)' /tmp/troupe-format.$$ | sort -u | sed 's/^/format: not in the committed style: /' >&2
    rm -f /tmp/troupe-format.$$
    echo "format: run scripts/format.sh to fix" >&2
    exit 1
  fi
  rm -f /tmp/troupe-format.$$
  echo "format: ${#files[@]} files in the committed style"
else
  clang-format -i "${files[@]}"
  echo "format: formatted ${#files[@]} files"
fi
