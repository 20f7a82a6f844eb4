#!/usr/bin/env python3
"""Where a bsp trainer's wait for parameters goes, from a run's span records.

Usage: scripts/wait_params.py METRICS_DIR   (the run's metrics.dir: every node's *.jsonl)

For every clock both trainers pushed, each trainer waits from the end of its push to the start
of its next compute. Of that wait, "skew" lasts until the other trainer's push ended (it was
still computing); the rest is the round trip after the last push, split at the aggregator's
apply span: in (last push end -> apply start), apply, out (apply end -> next compute).
Prints one line per trainer and one for the round trip; JSON on the last line.
Needs the trainers' and the aggregator's "spans" records (docs/metrics.md) of a 2-trainer bsp run.
"""
import collections
import glob
import json
import statistics
import sys


def main(metrics_dir):
    spans = collections.defaultdict(dict)  # trainer -> clock -> {kind: (start, duration)}
    agg = {}  # correlation id -> {kind: (start, duration)}
    for path in glob.glob(metrics_dir + "/*.jsonl"):
        with open(path) as f:
            for line in f:
                rec = json.loads(line)
                if rec.get("event") != "spans":
                    continue
                last = None
                for name, start, duration, cid in rec["spans"]:
                    if rec["role"] == "trainer":
                        if cid:
                            last = int(cid.split("/")[1])
                            spans[rec["actor"]].setdefault(last, {})[name] = (start, duration)
                        elif name == "wait_params" and last is not None:
                            spans[rec["actor"]].setdefault(last, {})[name] = (start, duration)
                    elif rec["role"] == "aggregator":
                        agg.setdefault(cid, {})[name] = (start, duration)
    trainers = sorted(spans)
    if len(trainers) != 2:
        sys.exit(f"wait_params.py: needs the spans of 2 trainers, found {len(trainers)} in {metrics_dir}")
    total = collections.Counter()
    ins, applies, outs = [], [], []
    for c in sorted(set(spans[trainers[0]]) & set(spans[trainers[1]])):
        if not all(k in spans[t][c] for t in trainers for k in ("compute", "push")):
            continue
        if not all(c + 1 in spans[t] and "compute" in spans[t][c + 1] for t in trainers):
            continue
        # A push that left during backward (sharded aggregators) ends before its compute does.
        push_end = {t: max(sum(spans[t][c]["push"]), sum(spans[t][c]["compute"])) for t in trainers}
        last_push = max(push_end.values())
        for t in trainers:
            nxt = spans[t][c + 1]["compute"][0]
            wait, skew = nxt - push_end[t], last_push - push_end[t]
            total[t, "wait"] += wait
            total[t, "skew"] += skew
            total[t, "compute"] += spans[t][c]["compute"][1]
            total[t, "push"] += push_end[t] - sum(spans[t][c]["compute"])
            total[t, "wall"] += nxt - spans[t][c]["compute"][0]
        applied = [v["apply"] for k, v in agg.items() if k.endswith("/" + str(c)) and "apply" in v]
        if applied:
            start, duration = applied[0]
            ins.append(start - last_push)
            applies.append(duration)
            outs.extend(spans[t][c + 1]["compute"][0] - (start + duration) for t in trainers)
    out = {"trainers": {}}
    for t in trainers:
        wall = total[t, "wall"]
        share = {k: total[t, k] / wall for k in ("compute", "push", "wait", "skew")}
        share["round_trip"] = share["wait"] - share["skew"]
        out["trainers"][t] = share
        print(f"{t}: wall {wall:.2f} s; compute {100 * share['compute']:.1f} %, push {100 * share['push']:.1f} %, "
              f"wait for parameters {100 * share['wait']:.1f} % = the other trainer still computing "
              f"{100 * share['skew']:.1f} % + the round trip after the last push {100 * share['round_trip']:.1f} %")
    if applies:
        out["round_trip_ms"] = {"in": 1e3 * statistics.median(ins), "apply": 1e3 * statistics.median(applies),
                                "out": 1e3 * statistics.median(outs)}
        print("round trip (medians): last push end -> apply start {in:.2f} ms, apply {apply:.2f} ms, "
              "apply end -> next compute {out:.2f} ms".format(**out["round_trip_ms"]))
    print(json.dumps(out))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
