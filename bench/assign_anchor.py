"""PyTorch anchor of bench_assign: the same student (Linear-ReLU-...-Linear), argmax and
cluster -> arm lookup on the CPU with one thread. Reads the JSON bench_assign exports and
prints one JSON line: per-row microseconds single and batched, and how many sample rows get
the same cluster as in C++."""
import json
import sys
import time


def build_student(torch, widths, flat):
    # The C++ layout per layer: W (fan_in x fan_out, row-major, y = x W + b), then b.
    layers, offset = [], 0
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        linear = torch.nn.Linear(fan_in, fan_out)
        weight = torch.tensor(flat[offset:offset + fan_in * fan_out], dtype=torch.float32)
        offset += fan_in * fan_out
        bias = torch.tensor(flat[offset:offset + fan_out], dtype=torch.float32)
        offset += fan_out
        with torch.no_grad():
            linear.weight.copy_(weight.view(fan_in, fan_out).t())
            linear.bias.copy_(bias)
        layers += [linear, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1]).eval()


def median_seconds(work, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main():
    try:
        import torch
    except ImportError as error:
        print(json.dumps({"skipped": "PyTorch is not installed for /usr/bin/python3 (%s)" % error}))
        return
    torch.set_num_threads(1)
    with open(sys.argv[1]) as handle:
        spec = json.load(handle)
    widths = spec["widths"]
    student = build_student(torch, widths, spec["parameters"])
    arms = torch.tensor(spec["arms"], dtype=torch.int64)
    rows, single_rows, block = spec["rows"], spec["single_rows"], spec["block"]
    x = torch.randn(rows, widths[0], generator=torch.Generator().manual_seed(9))

    def serve(start, count):
        clusters = student(x[start:start + count]).argmax(dim=1)
        return arms[clusters]

    def single():
        for i in range(single_rows):
            serve(i, 1)

    def batched():
        for start in range(0, rows, block):
            serve(start, min(block, rows - start))

    with torch.inference_mode():
        single_us = 1e6 * median_seconds(single) / single_rows
        batched_us = 1e6 * median_seconds(batched) / rows
        sample = torch.tensor(spec["sample_x"], dtype=torch.float32).view(-1, widths[0])
        clusters = student(sample).argmax(dim=1).tolist()
    agree = sum(int(a == b) for a, b in zip(clusters, spec["sample_clusters"]))
    print(json.dumps({"torch": torch.__version__, "single_us": single_us,
                      "batched_us": batched_us, "agree": agree, "sample": len(clusters)}))


if __name__ == "__main__":
    main()
