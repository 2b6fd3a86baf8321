"""Catalogue of the assignment forecasting: wrong and alternative correct implementations.

The held-out tiers (beat the naive forecast, beat the seasonal baseline, come within 1.5 x the
reference model's RMSE) catch the models that run but forecast badly: trained against the
inputs (it learns to repeat the last value), far too slowly, without context (one step of
each window: no seasonal cycle), with accumulating gradients, or far too small."""

from __future__ import annotations

from tests.autograder.catalogues.mutations import Variant as V

A = "forecasting"

MUTANTS = [
    # parts 1 to 4
    V("windows_target_not_shifted", A, "make_windows", "series[idx + 1]", "series[idx]"),
    V("forecaster_ignores_state", A, "Forecaster",
      "Hs, state = self.rnn(X, state)", "Hs, state = self.rnn(X)"),
    V("train_without_clipping", A, "train",
      "nn.utils.clip_grad_norm_(model.parameters(), max_norm)", "pass"),
    V("train_drops_the_last_smaller_batch", A, "train", "for s in range(0, M, batch_size):",
      "for s in range(0, M - batch_size + 1, batch_size):"),
    V("train_clips_after_the_step", A, "train",
      "nn.utils.clip_grad_norm_(model.parameters(), max_norm)\n        optimizer.step()",
      "optimizer.step()\n        nn.utils.clip_grad_norm_(model.parameters(), max_norm)"),
    V("forecast_state_not_carried", A, "forecast",
      "y, state = model(y, state)", "y, state = model(y)"),
    V("forecast_starts_with_last_value", A, "forecast", "y = pred[-1:]", "y = x[-1:]"),
    # caught by the held-out tiers
    V("train_loss_against_the_inputs", A, "train",
      "loss = nn.functional.mse_loss(pred, Y[:, idx])",
      "loss = nn.functional.mse_loss(pred, X[:, idx])"),
    V("train_learning_rate_100_times_too_small", A, "train", "lr=lr)", "lr=lr / 100)"),
    V("train_sgd_instead_of_adam", A, "train", "torch.optim.Adam(", "torch.optim.SGD("),
    V("train_last_step_of_each_window_only", A, "train",
      "pred, _ = model(X[:, idx])\n        loss = nn.functional.mse_loss(pred, Y[:, idx])",
      "pred, _ = model(X[-1:, idx])\n        loss = nn.functional.mse_loss(pred, Y[-1:, idx])"),
    V("train_without_zero_grad", A, "train", "        optimizer.zero_grad()\n", ""),
    V("forecaster_ignores_hidden_size", A, "Forecaster", None, """
def __init__(self, hidden_size):
    super().__init__()
    self.rnn = nn.LSTM(1, 1)  # time-major: (T, B, 1)
    self.head = nn.Linear(1, 1)

def forward(self, X, state=None):
    Hs, state = self.rnn(X, state)
    return self.head(Hs), state
"""),
]

ALTERNATIVES = [
    V("forecaster_gru", A, "Forecaster", "nn.LSTM(1, hidden_size)",
      "nn.GRU(1, hidden_size)"),
    V("windows_sliding_window_view", A, "make_windows", None, """
w = np.lib.stride_tricks.sliding_window_view(series, window + 1)  # (M, window + 1)
X = torch.tensor(w[:, :-1].T.copy(), dtype=torch.float32).unsqueeze(-1)
Y = torch.tensor(w[:, 1:].T.copy(), dtype=torch.float32).unsqueeze(-1)
return X, Y
"""),
    V("train_batch_mean_of_losses", A, "train", None, """
gen = torch.Generator().manual_seed(seed)
optimizer = torch.optim.Adam(model.parameters(), lr=lr)
losses = []
for _ in range(n_epochs):
    batch_losses = []
    for idx in torch.randperm(X.shape[1], generator=gen).split(batch_size):
        optimizer.zero_grad()
        loss = ((model(X[:, idx])[0] - Y[:, idx]) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=max_norm)
        optimizer.step()
        batch_losses.append(loss.item())
    losses.append(sum(batch_losses) / len(batch_losses))
return losses
"""),
    V("forecast_rerun_without_state", A, "forecast", None, """
seq = list(np.asarray(history, dtype=np.float32))
out = []
with torch.no_grad():
    for _ in range(steps):
        pred, _ = model(torch.tensor(seq).reshape(-1, 1, 1))
        out.append(float(pred[-1, 0, 0]))
        seq.append(out[-1])
return np.array(out)
"""),
    V("forecaster_batch_first", A, "Forecaster", None, """
def __init__(self, hidden_size):
    super().__init__()
    self.rnn = nn.LSTM(1, hidden_size, batch_first=True)  # batch-first: (B, T, 1)
    self.head = nn.Linear(hidden_size, 1)

def forward(self, X, state=None):
    Hs, state = self.rnn(X.transpose(0, 1), state)
    return self.head(Hs).transpose(0, 1), state
"""),
]
