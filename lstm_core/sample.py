"""Generation from a trained model: characters at a temperature, and free-running forecasts of a series."""

from __future__ import annotations

import torch

from .models import SeqModel


@torch.no_grad()
def sample_text(model: SeqModel, task, prompt: str, n: int, temperature: float, seed: int) -> str:
    """Continue `prompt` by `n` characters. Temperature 0 is greedy; higher is more random."""
    if not prompt:
        raise ValueError("the prompt must have at least one character.")
    model.eval()
    gen = torch.Generator().manual_seed(seed)
    dev = next(model.parameters()).device
    ids = task.encode(prompt).to(dev)
    out, state = _run(model, model.encode(ids.unsqueeze(0)), None)
    chars = []
    for _ in range(n):
        logits = out[0, -1].cpu()
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            nxt = int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=gen))
        chars.append(nxt)
        out, state = _run(model, model.encode(torch.tensor([[nxt]], device=dev)), state)
    return task.decode(chars)


def _run(model: SeqModel, x: torch.Tensor, state):
    """Run the stacked layers from `state` (a list per layer, or None); returns readout and new state."""
    new = []
    h = x
    for k, layer in enumerate(model.rnn):
        h, s = layer(h, None if state is None else state[k])
        new.append(s)
    return model.readout(h), new


@torch.no_grad()
def forecast(model: SeqModel, prefix: torch.Tensor, n: int) -> torch.Tensor:
    """Read `prefix` (T, 1), then feed each prediction back as the next input for `n` steps -> (n,)."""
    model.eval()
    dev = next(model.parameters()).device
    out, state = _run(model, prefix.reshape(1, -1, 1).float().to(dev), None)
    preds = []
    v = out[:, -1:]  # (1, 1, 1)
    for _ in range(n):
        preds.append(v.item())
        out, state = _run(model, v, state)
        v = out[:, -1:]
    return torch.tensor(preds)
