"""PyTorch anchor of bench_training: the same multi-task network (Linear(12,256)-ReLU-
Linear(256,128)-ReLU trunk, value and cost heads Linear(128,64)-ReLU-Linear(64,5)), only the
logged arm's output trained with MSE weighted N/N_t, Adam, batch 4096, shuffled epochs.
Usage: training_anchor.py [rows] [epochs] [threads]; prints one JSON line. Run it with
OPENBLAS_NUM_THREADS=1 so that OpenBLAS and PyTorch's own threads do not fight over the cores."""
import json
import sys
import time

FEATURES, ARMS, BATCH = 12, 5, 4096


def random_rows(torch, rows, seed):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, FEATURES, generator=generator)
    arm = torch.randint(0, ARMS, (rows,), generator=generator)
    noise = torch.randn(rows, generator=generator)
    value = torch.clamp(10 + 5 * (x[:, 0] + 0.5 * arm) + noise, min=0)
    cost = torch.where(arm == 0, torch.zeros(rows), torch.clamp(arm + 0.3 * noise, min=0))
    return x, arm, value, cost


def build(torch):
    def head():
        return torch.nn.Sequential(torch.nn.Linear(128, 64), torch.nn.ReLU(),
                                   torch.nn.Linear(64, ARMS))
    trunk = torch.nn.Sequential(torch.nn.Linear(FEATURES, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 128), torch.nn.ReLU())
    return trunk, head(), head()


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 262144
    epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(3)
    x, arm, value, cost = random_rows(torch, rows, 1)
    counts = torch.bincount(arm, minlength=ARMS).float()
    arm_weight = rows / counts
    # Targets divided by their training deviation, as the C++ network scales amount heads.
    value_scale, cost_scale = value.std(), cost.std()
    trunk, value_head, cost_head = build(torch)
    parameters = (list(trunk.parameters()) + list(value_head.parameters())
                  + list(cost_head.parameters()))
    optimizer = torch.optim.Adam(parameters, lr=1e-3)

    start = time.perf_counter()
    for _ in range(epochs):
        order = torch.randperm(rows)
        for first in range(0, rows, BATCH):
            index = order[first:first + BATCH]
            batch_arm = arm[index].unsqueeze(1)
            weight = arm_weight[arm[index]]
            z = trunk(x[index])
            value_out = value_head(z).gather(1, batch_arm).squeeze(1)
            cost_out = cost_head(z).gather(1, batch_arm).squeeze(1)
            loss = ((weight * (value_out - value[index] / value_scale) ** 2).mean()
                    + (weight * (cost_out - cost[index] / cost_scale) ** 2).mean())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    print(json.dumps({"bench": "training", "figure": "anchor_samples_per_s",
                      "value": rows * epochs / seconds, "unit": "samples/s",
                      "anchor": "PyTorch %s CPU, %d threads" % (torch.__version__, threads),
                      "rows": rows, "epochs": epochs}))


if __name__ == "__main__":
    main()
