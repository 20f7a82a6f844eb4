#!/usr/bin/python3
# Regenerates the golden values in tests/tensor/nn/golden_test.cpp with PyTorch (Debian's
# python3-torch 1.13, CPU) as the independent implementation. The tests never run this.
#   /usr/bin/python3 tests/tensor/golden/make_golden.py
import math
import torch

torch.set_default_dtype(torch.float64)

def fill(shape, phase):
    n = 1
    for d in shape:
        n *= d
    v = [math.sin(0.37 * i + phase) for i in range(n)]
    return torch.tensor(v).reshape(shape)

x = fill((2, 2, 7, 7), 0.1)
w1 = fill((3, 2, 3, 3), 0.2).requires_grad_()
b1 = fill((3,), 0.3).requires_grad_()
w2 = fill((4, 27), 0.4).requires_grad_()
b2 = fill((4,), 0.5).requires_grad_()
labels = torch.tensor([1, 3])

h = torch.nn.functional.conv2d(x, w1, b1, stride=1, padding=1)      # [2,3,7,7]
h = torch.relu(h)
h = torch.nn.functional.max_pool2d(h, 2, 2)                         # [2,3,3,3] (floor)
h = h.flatten(1)                                                    # [2,27]
z = h @ w2.t() + b2                                                 # [2,4]
loss = torch.nn.functional.cross_entropy(z, labels)
loss.backward()

def show(name, t):
    flat = t.detach().flatten().tolist()
    print(f"  // {name}: sum {sum(flat):.10g}")
    print(f"  {{\"{name}\", {{{', '.join(f'{v:.9g}' for v in flat[:6])}}}, {sum(flat):.10g}, {sum(abs(v) for v in flat):.10g}}},")

print(f"loss {loss.item():.10g}")
print("logits", [f"{v:.9g}" for v in z.detach().flatten().tolist()])
show("0.weight", w1.grad)
show("0.bias", b1.grad)
show("4.weight", w2.grad)
show("4.bias", b2.grad)
