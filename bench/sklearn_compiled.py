"""Compiled scikit-learn against scikit-learn itself, in-process, on the abalone models.

One abalone CSV row (and 100 rows) through the whole handler chain (``Transformer.invoke``:
decode, transform or predict, encode) of the featurizer and of the Ridge regressor, with
the compiler (the default) and with ``SERVING_SKLEARN_COMPILE=false``, in the same run; and
the load time of each. The answers are checked equal byte for byte first. Then a 100-tree
``RandomForestRegressor`` on the featurized abalone rows: ``predict`` of one row against the
compiled plan's, and the same for a 100-tree ``HistGradientBoostingRegressor``. Run:

    .venv/bin/python bench/sklearn_compiled.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serving.handlers.transformer import Transformer  # noqa: E402
from serving.settings import Settings  # noqa: E402
from tests.conftest import ABALONE, load_example  # noqa: E402


def p50(transformer: Transformer, body: bytes, n: int) -> float:
    for _ in range(min(200, n)):
        transformer.invoke(body, "text/csv", "text/csv")
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        transformer.invoke(body, "text/csv", "text/csv")
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    featurizer_dir, regressor_dir = load_example("abalone/train.py").train(ABALONE, Path(tempfile.mkdtemp()) / "abalone")
    lines = [",".join(line.split(",")[:8]) for line in ABALONE.read_text().splitlines()]
    featurizer_bodies = {"1 row": (lines[0] + "\n").encode(), "100 rows": ("\n".join(lines[:100]) + "\n").encode()}
    print(f"{'model':<12} {'body':<9} {'scikit-learn':>13} {'compiled':>10} {'speed-up':>9}  load (plain, compiled)")
    for name, folder in (("featurizer", featurizer_dir), ("regressor", regressor_dir)):
        chains, loads = {}, {}
        for compile_ in ("false", "true"):
            t = time.perf_counter()
            chains[compile_] = Transformer.from_settings(
                Settings.from_env({"SERVING_SKLEARN_COMPILE": compile_}, framework="sklearn", model_dir=str(folder)))
            loads[compile_] = (time.perf_counter() - t) * 1e3
        bodies = featurizer_bodies
        if name == "regressor":  # what the featurizer answers is what the regressor is sent
            bodies = {k: featurizer.invoke(v, "text/csv", "text/csv").body for k, v in featurizer_bodies.items()}
        else:
            featurizer = chains["true"]
        for label, body in bodies.items():
            plain, compiled = (chains[c].invoke(body, "text/csv", "text/csv").body for c in ("false", "true"))
            assert plain == compiled, "the compiled plan answered other bytes"
            slow, fast = p50(chains["false"], body, args.requests), p50(chains["true"], body, args.requests)
            print(f"{name:<12} {label:<9} {slow:>10.3f} ms {fast:>7.3f} ms {slow / fast:>8.1f}x  "
                  f"{loads['false']:.1f} ms, {loads['true']:.1f} ms")
    forest(featurizer_dir, args.requests)


def forest(featurizer_dir: Path, n: int) -> None:
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor

    from serving.frameworks.sklearn.compiled import compile_model

    abalone = load_example("abalone/train.py")
    frame = pd.read_csv(ABALONE, header=None, names=abalone.FEATURES + [abalone.LABEL])
    features = joblib.load(featurizer_dir / "model.joblib").transform(frame[abalone.FEATURES])
    model = RandomForestRegressor(100, random_state=0).fit(features, frame[abalone.LABEL])
    plan = compile_model(model, "predict")
    row = features[:1]
    assert np.array_equal(plan.run(features), model.predict(features))

    def timed(fn) -> float:
        samples = []
        for _ in range(min(n, 500)):
            t = time.perf_counter()
            fn()
            samples.append(time.perf_counter() - t)
        return statistics.median(samples) * 1e3

    slow, fast = timed(lambda: model.predict(row)), timed(lambda: plan.run(row))
    print(f"{'forest':<12} {'1 row':<9} {slow:>10.3f} ms {fast:>7.3f} ms {slow / fast:>8.1f}x  "
          f"(RandomForestRegressor, 100 trees, depth {plan.root.depth})")
    boosted = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(features, frame[abalone.LABEL])
    plan = compile_model(boosted, "predict")
    assert np.array_equal(plan.run(features), boosted.predict(features))
    slow, fast = timed(lambda: boosted.predict(row)), timed(lambda: plan.run(row))
    print(f"{'boosted':<12} {'1 row':<9} {slow:>10.3f} ms {fast:>7.3f} ms {slow / fast:>8.1f}x  "
          f"(HistGradientBoostingRegressor, 100 trees)")


if __name__ == "__main__":
    main()
