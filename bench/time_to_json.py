"""Turns the output of `/usr/bin/time -v` for one `clusteralloc run` into a JSON line: wall
seconds, peak resident memory and the run's own stage timings. Usage: time_to_json.py time.txt
users label [run_info.json]."""
import json
import sys


def wall_seconds(text):
    # "h:mm:ss" or "m:ss.ss"
    seconds = 0.0
    for part in text.strip().split(":"):
        seconds = seconds * 60 + float(part)
    return seconds


def main():
    path, users, label = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    figures = {}
    for line in open(path):
        key, _, value = line.strip().rpartition(": ")
        if key.startswith("Elapsed (wall clock) time"):
            figures["wall_s"] = wall_seconds(value)
        elif key == "Maximum resident set size (kbytes)":
            figures["peak_rss_mib"] = int(value) / 1024.0
        elif key == "Percent of CPU this job got":
            figures["cpu_percent"] = float(value.rstrip("%"))
    stages = {}
    if len(sys.argv) > 4:
        try:
            with open(sys.argv[4]) as info:
                stages = json.load(info).get("stage_seconds", {})
        except (OSError, ValueError):
            stages = {}
    print(json.dumps({"round": 1, "bench": "e2e", "figure": "wall_s",
                      "value": figures.get("wall_s"), "unit": "s", "users": users,
                      "label": label, "peak_rss_mib": figures.get("peak_rss_mib"),
                      "cpu_percent": figures.get("cpu_percent"), "stages": stages}))


if __name__ == "__main__":
    main()
