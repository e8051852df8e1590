"""Is the run failing? The failures users of every InfoGAN port meet most, detected while training.

At each interval record (every --log-every steps) the monitor measures a small fixed batch of generated
images (64 latents, forward passes only: G twice, D once), puts what it measured into the record, and
names what the record shows:

- d_wins: D tells real from fake and G pays for it: both D's accuracies >= D_WINS_ACCURACY and G's loss
  >= D_WINS_G_LOSS (D gives G's images a probability of being real of about e^-2 = 0.14 on average).
  Accuracy alone is not enough: the seed's recipe (seed-mnist, batch 256) trains with D at 0.95-0.97
  while G's loss stays near 1 and the run learns; healthy MNIST and shapes runs keep G's loss under 1.8.
- collapse: the generated batch has almost no diversity: its mean pairwise distance is below
  COLLAPSE_RATIO of the same measure on 64 real images (1.0: as varied as the data), both measured on
  the images averaged down to about 8x8 (POOLED_SIDE). Averaging is what makes a texture count as one
  image: a G that draws the same fine checkerboard everywhere, shifted a pixel here and there, is far
  apart pixel by pixel (0.67 of real MNIST's spread in the health catalogue) and alike at 9x9 (0.28);
  healthy MNIST and shapes runs read 0.97-1.09.
- code_ignored: a code carries no information: a categorical code's MI bound (ln K - CE) stays below
  IGNORED_SHARE of ln K, or a continuous code's correlation with Q's reading of it on the generated batch
  stays below IGNORED_CORRELATION in magnitude.

collapse and code_ignored are judged only after a warm-up (WARMUP_STEPS, or WARMUP_SHARE of the run if
that is more): a fresh G draws nearly the same image for every latent, and Q needs a few dozen steps to
read a code (on MNIST the MI bound averages 2.0 of 2.3 over the first 50 steps; on shapes-32 a healthy
run's fifth continuous code was still at correlation 0.16 at step 80 of 1,200, hence 10% of the run).
- diverged: a loss or weight became NaN/inf (found where the run stops on it, loop.py), or a loss
  exploded while staying finite: D's or G's loss above LOSS_EXPLODED (a logistic loss of 100 means logits
  of about 100: D's outputs saturated, its gradients vanished; healthy runs stay under 10).
- g_stalled: G has stopped changing: the fixed batch's images (averaged down as for collapse; drawn with
  the batch's own BatchNorm statistics, so that they depend on G's weights alone) moved less than
  STALLED_CHANGE of the real images' spread per square root of the steps since the last check. A G whose
  learning rate is near 0, whose weights do not reach its optimiser, or whose output saturated draws the
  same images step after step, long before D's accuracies show it. Judged from the second check on, with
  no warm-up: a fresh G moves fastest.

The measures taken on the generated batch go into every interval record by name (`g_diversity`,
`g_change`, `q_correlation_cont<i>`), so a run's metrics.jsonl shows what the monitor saw between alarms;
the rules (`judge`) read the record alone.

A failure is reported once it holds at SUSTAINED consecutive checks, and again only after it cleared:
one console line naming it, the step, the evidence and what to try (ADVICE), and a `"kind": "health"`
record in metrics.jsonl, which `infogan evaluate` repeats in its report. The run goes on unless
--stop-on-failure asks it to stop (checkpointed, exit status 3).

The thresholds are set on the catalogue of docs/results.md#health: its failing runs are flagged and its
healthy runs raise nothing.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch

from infogan.data.images import to_unit_range
from infogan.model.networks import eval_mode

D_WINS_ACCURACY, D_WINS_G_LOSS = 0.9, 2.0
LOSS_EXPLODED = 100.0
COLLAPSE_RATIO = 0.3
POOLED_SIDE = 8  # images are averaged over (H // POOLED_SIDE)-pixel squares before the spread is taken
IGNORED_SHARE = 0.1
IGNORED_CORRELATION = 0.2
STALLED_CHANGE = 1e-3  # per square root of a step, relative to the real spread (docs/results.md#health)
WARMUP_STEPS, WARMUP_SHARE = 50, 0.1
SUSTAINED = 2
CHECK_BATCH = 64
SEED_OFFSET = 3_000_017  # the check's latents have their own seed, apart from training's and the pictures'

ADVICE = {
    "d_wins": "try a lower --lr-d, --spectral-norm, a larger --batch-size, or a lighter D (--arch)",
    "collapse": "try a lower --lr-g, --spectral-norm, a larger --batch-size, or another --seed",
    "code_ignored": "try a larger --categorical-weight / --continuous-weight, a higher --lr-q, or fewer noise "
    "variables (--noise-dim)",
    "diverged": "try lower learning rates (--lr-d, --lr-g) or --precision fp32",
    "g_stalled": "G's images stopped changing: check --lr-g, then try a lower --lr-d or --spectral-norm (D may "
    "have saturated and G's gradients vanished)",
}


@dataclass
class Finding:
    failure: str  # a key of ADVICE
    step: int
    evidence: dict
    subject: str = ""  # what failed, where it is one of several (a code)

    @property
    def key(self) -> tuple[str, str]:
        return self.failure, self.subject

    def record(self, epoch: int) -> dict:
        return {
            "kind": "health",
            "epoch": epoch,
            "step": self.step,
            "failure": self.failure,
            **({"subject": self.subject} if self.subject else {}),
            "evidence": self.evidence,
            "advice": ADVICE[self.failure],
        }

    def line(self) -> str:
        what = f"{self.failure} ({self.subject})" if self.subject else self.failure
        shown = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in self.evidence.items())
        return f"health: {what} at step {self.step}: {shown}; {ADVICE[self.failure]}"


@dataclass
class HealthMonitor:
    """Measures a run at each interval record (`measure`, into the record) and judges the record (`check`:
    the failures newly found there)."""

    spec: object  # the run's LatentSpec
    real: torch.Tensor  # CHECK_BATCH real images, uint8 [N, C, H, W]
    total_steps: int
    seed: int = 0
    streak: dict = field(default_factory=dict)  # (failure, subject) -> consecutive checks it held
    reported: set = field(default_factory=set)  # failures reported and not yet cleared
    last: tuple | None = None  # (step, pooled batch-statistics images) of the last measure: G moved since

    def __post_init__(self):
        self.real_spread = _spread(_pooled(to_unit_range(self.real).float()))
        self.latent = self.spec.sample(CHECK_BATCH, torch.Generator().manual_seed(self.seed + SEED_OFFSET))

    @torch.no_grad()
    def measure(self, gen, disc, step: int) -> dict:
        """The fixed generated batch's statistics, by name: its diversity against the real images', how far
        it moved since the last measure (relative to the real spread, per square root of the steps between),
        and for each continuous code the correlation of the code with Q's reading of it."""
        latent_vector = self.spec.vector(self.latent.to(next(gen.parameters()).device))
        with eval_mode(gen, disc):
            fake = gen(latent_vector).float()
            q_mean = disc(fake).cont_mean.float().cpu()
        with _batch_statistics(gen):  # (eval mode's running statistics jitter from batch to batch)
            weighed = _pooled(gen(latent_vector).float().cpu())
        scale = max(self.real_spread, 1e-8)
        out = {"g_diversity": round(_spread(_pooled(fake.cpu())) / scale, 4)}
        if self.last is not None and step > self.last[0] and self.last[1].shape == weighed.shape:
            moved = float((weighed - self.last[1]).double().norm(dim=1).mean())
            # per square root of a step: between checks a learning G's images wander like a random walk,
            # whose distance grows as the root of the steps (the demo's recipe read 0.076 with a check every 10
            # steps and 0.054 every 50; per step it would be 0.024 and 0.0076), so --log-every barely moves it
            out["g_change"] = round(moved / scale / math.sqrt(step - self.last[0]), 8)
        self.last = (step, weighed)
        for i in range(self.spec.continuous):
            out[f"q_correlation_cont{i + 1}"] = round(_correlation(self.latent.cont[:, i], q_mean[:, i]), 4)
        return out

    def state_dict(self) -> dict:
        """What a resumed run needs to judge as the uninterrupted one would: the last measure (G's change is
        taken against it) and the streaks and reports (an alarm is not raised twice). Tensors, strings and
        numbers only (checkpoints load with weights_only)."""
        return {
            "last_step": self.last[0] if self.last else -1,
            "last_images": self.last[1] if self.last else torch.zeros(0),
            "streak": [[failure, subject, count] for (failure, subject), count in self.streak.items()],
            "reported": [[failure, subject] for failure, subject in self.reported],
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore what `state_dict` wrote; TypeError/KeyError/ValueError for anything else (a damaged
        checkpoint), with the monitor left as it was."""
        step, images = state["last_step"], state["last_images"]
        if not (isinstance(step, int) and isinstance(images, torch.Tensor) and bool(torch.isfinite(images).all())):
            raise TypeError("the health monitor's state is damaged")
        streak = {(failure, subject): count for failure, subject, count in state["streak"]}
        reported = {(failure, subject) for failure, subject in state["reported"]}
        if not all(isinstance(f, str) and isinstance(s, str) for f, s in [*streak, *reported]) or not all(
            isinstance(c, int) for c in streak.values()
        ):
            raise TypeError("the health monitor's state is damaged")
        self.last = (step, images) if step >= 0 else None
        self.streak, self.reported = streak, reported

    def check(self, record: dict) -> list[Finding]:
        seen = judge(record, self.spec, warm=record["step"] >= max(WARMUP_STEPS, WARMUP_SHARE * self.total_steps))
        held = {f.key for f in seen}
        for key in list(self.streak):
            if key not in held:  # cleared: reported again if it comes back
                del self.streak[key]
                self.reported.discard(key)
        new = []
        for finding in seen:
            self.streak[finding.key] = self.streak.get(finding.key, 0) + 1
            if self.streak[finding.key] >= SUSTAINED and finding.key not in self.reported:
                self.reported.add(finding.key)
                new.append(finding)
        return new


@contextmanager
def _batch_statistics(gen):
    """G in training mode, its buffers (BatchNorm's running statistics, spectral norm's vectors) restored
    after: the fixed batch's images are then a function of G's weights alone. In eval mode they are not: the
    running statistics follow each training batch, and a G whose weights never change (lr G 1e-7) still
    moved 0.009 of the real spread per square root of a step between checks 10 steps apart in the catalogue,
    nine times STALLED_CHANGE."""
    saved, training = [b.detach().clone() for b in gen.buffers()], gen.training
    gen.train()
    try:
        yield
    finally:
        gen.train(training)
        with torch.no_grad():
            for buffer, kept in zip(gen.buffers(), saved):
                buffer.copy_(kept)


def judge(record: dict, spec, warm: bool) -> list[Finding]:
    """Every failure one interval record shows (with the monitor's measures in it); collapse and ignored
    codes only once the run is past its warm-up (`warm`)."""
    step = record["step"]
    seen = _d_wins(record, step) + _exploded(record, step) + _stalled(record, step)
    if warm:
        seen += (
            _collapsed(record, step)
            + _ignored_categorical(record, spec, step)
            + _ignored_continuous(record, spec, step)
        )
    return seen


def _stalled(record: dict, step: int) -> list[Finding]:
    change = record.get("g_change")
    if change is None or not change < STALLED_CHANGE:  # (NaN: diverged's business)
        return []
    return [Finding("g_stalled", step, {"g_change": change})]


def _collapsed(record: dict, step: int) -> list[Finding]:
    ratio = record.get("g_diversity")
    if ratio is None or not ratio < COLLAPSE_RATIO:
        return []
    return [Finding("collapse", step, {"diversity_vs_real": ratio})]


def _ignored_continuous(record: dict, spec, step: int) -> list[Finding]:
    out = []
    for i in range(1, spec.continuous + 1):
        r = record.get(f"q_correlation_cont{i}")
        if r is not None and abs(r) < IGNORED_CORRELATION:
            out.append(Finding("code_ignored", step, {"correlation_with_q": r}, f"continuous {i}"))
    return out


def _d_wins(record: dict, step: int) -> list[Finding]:
    real, fake, g_loss = record.get("d_acc_real"), record.get("d_acc_fake"), record.get("g_loss", math.nan)
    if real is None or fake is None:
        return []
    if min(real, fake) < D_WINS_ACCURACY or not g_loss >= D_WINS_G_LOSS:  # (a NaN loss is diverged's business)
        return []
    return [
        Finding(
            "d_wins", step, {"d_acc_real": round(real, 4), "d_acc_fake": round(fake, 4), "g_loss": round(g_loss, 4)}
        )
    ]


def _exploded(record: dict, step: int) -> list[Finding]:
    losses = {k: record[k] for k in ("d_loss", "g_loss") if k in record}
    if not any(v > LOSS_EXPLODED for v in losses.values()):
        return []
    return [Finding("diverged", step, {k: round(v, 1) for k, v in losses.items()})]


def _ignored_categorical(record: dict, spec, step: int) -> list[Finding]:
    out = []
    for i, k in enumerate(spec.categorical, start=1):
        bound = record.get(f"mi_bound_cat{i}", record.get("mi_bound") if len(spec.categorical) == 1 else None)
        if bound is not None and bound < IGNORED_SHARE * math.log(k):
            out.append(
                Finding(
                    "code_ignored",
                    step,
                    {"mi_bound": round(bound, 4), "max": round(math.log(k), 4)},
                    f"categorical {i}",
                )
            )
    return out


def _spread(x: torch.Tensor) -> float:
    """Mean pairwise Euclidean distance of the rows of x [N, D]."""
    n = x.shape[0]
    return float(torch.cdist(x.double(), x.double()).sum() / max(n * (n - 1), 1))


def _pooled(images: torch.Tensor) -> torch.Tensor:
    """Square images [N, C, S, S] averaged over squares of S // POOLED_SIDE pixels, flattened: [N, D]."""
    side = max(1, images.shape[-1] // POOLED_SIDE)
    return (torch.nn.functional.avg_pool2d(images, side) if side > 1 else images).flatten(1)


def _correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.double() - a.double().mean(), b.double() - b.double().mean()
    denominator = float(a.norm() * b.norm())
    return float((a * b).sum()) / denominator if denominator > 0 else 0.0
