"""Universality of heavy tails: the fitted ESD exponent alpha of random matrices against the entries' mu.

The question: "if the entries of W have a power-law tail P(|w| > t) ~ t^-mu, what exponent alpha
does rmtfit find in the tail of the eigenvalues of W^T W, and with what uncertainty?"

Random matrix theory (Martin & Mahoney, JMLR 2021, Table 3, after Ben Arous-Guionnet and
Burda-Jurkiewicz) gives three regimes:

- mu < 2 (very heavy tailed, Levy): alpha = 1 + mu / 2 in the limit of large matrices;
- 2 < mu < 4 (moderately heavy tailed): the limit ESD decays like a power law only far out, and
  fits on matrices of finite size follow a linear relation alpha ~ a mu + b (the coefficients
  depend on N and Q; this script estimates them and prints them);
- mu > 4 and Gaussian entries: Marchenko-Pastur, no power-law tail (a fitted alpha is large and
  says "no heavy tail", not a measured exponent).

Each matrix is N x M with i.i.d. entries s * P where s = +-1 and P is Pareto with P(P > t) = t^-mu
for t >= 1 (``numpy.random.Generator.pareto(mu) + 1``), plus one Gaussian matrix. All are fitted
in one :func:`rmtfit.fit` call (layers are batched), with the ``power_law`` tail likelihood
(xmin from the classical Clauset fit) and, unless ``--small``, the ``spliced_pl`` likelihood
(log-normal bulk spliced to a power-law tail, with xmin free).

Writes ``universality.png`` (alpha against mu with credible bands, the 1 + mu / 2 law and the
fitted line) and ``universality.json`` (every number printed) into ``--out``.

Run:  python examples/universality.py [--small] [--out universality_out] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import rmtfit

__all__ = ["pareto_matrix", "gaussian_matrix", "fit_line", "summarise", "main"]

CI_PROB = 0.9
"""Probability of the equal-tailed credible bands drawn and printed."""

FINITE_SIZE_RANGE = (2.0, 4.0)
"""The mu range (open) over which alpha ~ a mu + b is fitted."""


def pareto_matrix(n_rows: int, n_cols: int, mu: float, rng: np.random.Generator) -> np.ndarray:
    """An ``n_rows x n_cols`` matrix of symmetric Pareto entries with tail exponent ``mu``.

    Each entry is ``s * P`` with ``s = +-1`` equally likely and ``P(P > t) = t^-mu`` for ``t >= 1``.
    """
    if not mu > 0:
        raise ValueError(
            f"mu={mu!r}: the tail exponent of the entries must be > 0 (e.g. 0.5 to 5)."
        )
    magnitude = rng.pareto(mu, size=(n_rows, n_cols)) + 1.0
    sign = rng.choice([-1.0, 1.0], size=(n_rows, n_cols))
    return sign * magnitude


def gaussian_matrix(n_rows: int, n_cols: int, rng: np.random.Generator) -> np.ndarray:
    """An ``n_rows x n_cols`` matrix of standard normal entries (the Marchenko-Pastur reference)."""
    return rng.standard_normal((n_rows, n_cols))


def fit_line(mu: np.ndarray, alpha: np.ndarray, sd: np.ndarray) -> dict[str, float]:
    """Weighted least-squares line ``alpha = a mu + b`` (weights ``1 / sd^2``) with standard errors.

    Needs at least two distinct ``mu``; the standard errors are NaN with exactly two points.
    """
    mu, alpha, sd = (np.asarray(v, dtype=np.float64) for v in (mu, alpha, sd))
    if np.unique(mu).size < 2:
        raise ValueError(
            f"fit_line needs at least two distinct mu values, got {mu.tolist()}; "
            f"pass more --mus inside {FINITE_SIZE_RANGE}."
        )
    weight = 1.0 / np.maximum(sd, 1e-12) ** 2
    design = np.stack([mu, np.ones_like(mu)], axis=1)
    normal = design.T @ (weight[:, None] * design)
    a, b = np.linalg.solve(normal, design.T @ (weight * alpha))
    dof = mu.size - 2
    if dof > 0:
        residual = alpha - (a * mu + b)
        scale = float(np.sum(weight * residual**2) / dof)
        cov = np.linalg.inv(normal) * scale
        a_se, b_se = float(np.sqrt(cov[0, 0])), float(np.sqrt(cov[1, 1]))
    else:
        a_se = b_se = float("nan")
    return {"a": float(a), "b": float(b), "a_se": a_se, "b_se": b_se, "n_points": int(mu.size)}


def summarise(draws: np.ndarray, ci_prob: float = CI_PROB) -> dict[str, float]:
    """Mean, sd and equal-tailed ``ci_prob`` interval of posterior draws."""
    x = np.asarray(draws, dtype=np.float64).ravel()
    tail = (1.0 - ci_prob) / 2.0
    low, high = np.quantile(x, [tail, 1.0 - tail])
    return {
        "mean": float(x.mean()),
        "sd": float(x.std(ddof=1)),
        "low": float(low),
        "high": float(high),
    }


def _plot(rows: list[dict], lines: dict, gaussian: dict, likelihoods, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    markers = {"power_law": "o", "spliced_pl": "s"}
    for k, lik in enumerate(likelihoods):
        pts = [r for r in rows if lik in r["posterior"]]
        mu = np.array([r["mu"] for r in pts]) + 0.04 * (k - (len(likelihoods) - 1) / 2)
        mean = np.array([r["posterior"][lik]["mean"] for r in pts])
        low = np.array([r["posterior"][lik]["low"] for r in pts])
        high = np.array([r["posterior"][lik]["high"] for r in pts])
        ax.errorbar(
            mu, mean, yerr=[mean - low, high - mean], fmt=markers.get(lik, "^"), capsize=3,
            label=f"{lik}: posterior mean, {CI_PROB:.0%} interval",
        )  # fmt: skip
        ax.fill_between(mu, low, high, alpha=0.12)
        g = gaussian.get(lik)
        if g is not None:
            ax.axhspan(g["low"], g["high"], alpha=0.15, color=f"C{k}")
            ax.axhline(g["mean"], ls=":", color=f"C{k}", label=f"{lik}: Gaussian entries")
    mus = np.array([r["mu"] for r in rows])
    grid = np.linspace(min(mus.min(), 0.5), 2.0, 50)
    ax.plot(grid, 1.0 + grid / 2.0, "k-", lw=2, label="1 + mu/2 (mu < 2, N -> inf)")
    for k, (lik, line) in enumerate(lines.items()):
        grid = np.linspace(*FINITE_SIZE_RANGE, 50)
        ax.plot(
            grid, line["a"] * grid + line["b"], "--", color=f"C{k}",
            label=f"{lik}: fit {line['a']:.2f} mu + {line['b']:.2f} (2 < mu < 4)",
        )  # fmt: skip
    ax.set_xlabel("mu (tail exponent of the entries)")
    ax.set_ylabel("fitted ESD exponent alpha")
    ax.set_title("Universality: alpha against mu")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="small matrices, 4 mus, short chains")
    parser.add_argument("--out", default="universality_out", help="folder for the figure and JSON")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n", type=int, default=None, help="rows N (default 1000; 300 small)")
    parser.add_argument("--q", type=float, default=2.0, help="aspect ratio Q = N / M >= 1")
    parser.add_argument("--mus", type=float, nargs="+", default=None, help="tail exponents mu")
    args = parser.parse_args(argv)

    if args.q < 1.0:
        raise ValueError(f"--q {args.q}: the aspect ratio Q = N / M must be >= 1 (e.g. 2).")
    if args.small:
        n_rows, draws, chains = args.n or 300, 300, 2
        mus = args.mus or [1.0, 2.5, 3.5]
        likelihoods: tuple[str, ...] = ("power_law",)
    else:
        n_rows, draws, chains = args.n or 1000, 1000, 4
        mus = args.mus or [0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0]
        likelihoods = ("power_law", "spliced_pl")
    n_cols = max(2, int(round(n_rows / args.q)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng(args.seed)
    matrices = {f"pareto_mu{mu:.2f}": pareto_matrix(n_rows, n_cols, mu, rng) for mu in mus}
    matrices["gaussian"] = gaussian_matrix(n_rows, n_cols, rng)
    spectra = rmtfit.load_spectra(matrices)
    fits = rmtfit.fit(
        spectra, likelihoods=list(likelihoods), seed=args.seed, draws=draws, chains=chains
    )

    def posterior(name: str) -> dict[str, dict[str, float]]:
        return {
            lik: summarise(fits.draws(name, lik, "alpha"))
            for lik in likelihoods
            if fits.has(name, lik)
        }

    rows = []
    print(f"N x M = {n_rows} x {n_cols}; {draws} draws x {chains} chains; {CI_PROB:.0%} intervals")
    header = f"{'mu':>5} {'1+mu/2':>7} {'classical':>9}"
    print(header + "".join(f" {lik + ' alpha [interval]':>32}" for lik in likelihoods))
    for mu in mus:
        name = f"pareto_mu{mu:.2f}"
        post = posterior(name)
        classical = float(fits.classical[name].alpha)
        rows.append({"mu": mu, "layer": name, "classical_alpha": classical, "posterior": post})
        cells = "".join(
            f" {post[lik]['mean']:>10.3f} [{post[lik]['low']:.3f}, {post[lik]['high']:.3f}]    "
            if lik in post
            else f" {'not fitted: ' + fits.status(name, lik):>32}"
            for lik in likelihoods
        )
        print(f"{mu:>5.2f} {1 + mu / 2:>7.3f} {classical:>9.3f}{cells}")
    gaussian = posterior("gaussian")
    print(
        "Gaussian entries: "
        + ", ".join(
            f"{k} alpha {v['mean']:.3f} [{v['low']:.3f}, {v['high']:.3f}]"
            for k, v in gaussian.items()
        )
        + " (no power-law tail: a large alpha here is the bulk's edge, not an exponent)"
    )

    lines = {}
    for lik in likelihoods:
        pts = [
            r
            for r in rows
            if FINITE_SIZE_RANGE[0] < r["mu"] < FINITE_SIZE_RANGE[1] and lik in r["posterior"]
        ]
        if len({r["mu"] for r in pts}) < 2:
            print(f"{lik}: fewer than two mu in {FINITE_SIZE_RANGE}; no finite-size line fitted")
            continue
        line = fit_line(
            np.array([r["mu"] for r in pts]),
            np.array([r["posterior"][lik]["mean"] for r in pts]),
            np.array([r["posterior"][lik]["sd"] for r in pts]),
        )
        lines[lik] = line
        print(
            f"{lik}: alpha ~ a mu + b over {FINITE_SIZE_RANGE[0]} < mu < {FINITE_SIZE_RANGE[1]}: "
            f"a = {line['a']:.3f} +- {line['a_se']:.3f}, b = {line['b']:.3f} +- {line['b_se']:.3f} "
            f"({line['n_points']} points)"
        )
        low_mu = [r for r in rows if r["mu"] < 2.0 and lik in r["posterior"]]
        for r in low_mu:
            est = r["posterior"][lik]
            inside = est["low"] <= 1 + r["mu"] / 2 <= est["high"]
            print(
                f"{lik}: mu = {r['mu']:.2f}: 1 + mu/2 = {1 + r['mu'] / 2:.3f} is "
                f"{'inside' if inside else 'outside'} the {CI_PROB:.0%} interval"
            )

    figure = out / "universality.png"
    _plot(rows, lines, gaussian, likelihoods, figure)
    result = {
        "N": n_rows,
        "M": n_cols,
        "seed": args.seed,
        "draws": draws,
        "chains": chains,
        "ci_prob": CI_PROB,
        "likelihoods": list(likelihoods),
        "rows": rows,
        "gaussian": gaussian,
        "finite_size_fit": lines,
        "status": {f"{layer}/{lik}": fits.status(layer, lik) for layer, lik in fits.pairs()},
    }
    (out / "universality.json").write_text(json.dumps(result, indent=2))
    print(f"wrote {figure} and {out / 'universality.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
