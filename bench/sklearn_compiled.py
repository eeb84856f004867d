"""Compiled scikit-learn against scikit-learn itself, in-process, on the abalone models.

One abalone CSV row (and 100 rows) through the whole handler chain (``Transformer.invoke``:
decode, transform or predict, encode) of the featurizer and of the Ridge regressor, with
the compiler (the default) and with ``SERVING_SKLEARN_COMPILE=false``, in the same run; and
the load time and memory of each. The answers are checked equal byte for byte first. Then a 100-tree
``RandomForestRegressor`` on the featurized abalone rows: ``predict`` of one row against the
compiled plan's, and the same for a 100-tree ``HistGradientBoostingRegressor``. Last, ONNX
Runtime on the featurizer converted by skl2onnx (both are installed with pip when missing; the
converted pipeline, and why, is printed): its one-row ``InferenceSession.run`` against our
one-row ``Transformer.invoke`` and against our compiled plan alone, measured in interleaved
turns (bench/timing.py's ``interleaved_ms``). Run:

    .venv/bin/python bench/sklearn_compiled.py [--requests 3000]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serving.handlers.transformer import Transformer  # noqa: E402
from serving.settings import Settings  # noqa: E402
from tests.conftest import ABALONE, load_example  # noqa: E402
from timing import interleaved_ms, median_ms  # noqa: E402  (bench/, the script's own folder)


def p50(transformer: Transformer, body: bytes, n: int, content_type: str = "text/csv") -> float:
    return median_ms(lambda: transformer.invoke(body, content_type, content_type), n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    featurizer_dir, regressor_dir = load_example("abalone/train.py").train(ABALONE, Path(tempfile.mkdtemp()) / "abalone")
    lines = [",".join(line.split(",")[:8]) for line in ABALONE.read_text().splitlines()]
    featurizer_bodies = {"1 row": (lines[0] + "\n").encode(), "100 rows": ("\n".join(lines[:100]) + "\n").encode()}
    first = lines[0].split(",")
    json_row = json.dumps([[first[0], *map(float, first[1:])]]).encode()
    print(f"{'model':<12} {'body':<10} {'scikit-learn':>13} {'compiled':>10} {'speed-up':>9}  "
          "load time and memory (plain; compiled)")
    featurizer = None  # the compiled featurizer's chain, once loaded: it makes the regressor's bodies
    for name, folder in (("featurizer", featurizer_dir), ("regressor", regressor_dir)):
        chains, loads = {}, {}
        for compile_ in ("false", "true"):
            settings = Settings.from_env({"SERVING_SKLEARN_COMPILE": compile_}, framework="sklearn", model_dir=str(folder))
            chains[compile_], loads[compile_] = loaded(lambda: Transformer.from_settings(settings))
        bodies = featurizer_bodies
        if name == "regressor":  # what the featurizer answers is what the regressor is sent
            bodies = {k: featurizer.invoke(v, "text/csv", "text/csv").body for k, v in featurizer_bodies.items()}
        else:
            featurizer = chains["true"]
        typed = [(label, body, "text/csv") for label, body in bodies.items()]
        if name == "featurizer":
            typed.append(("1 row JSON", json_row, "application/json"))
        for label, body, content_type in typed:
            plain, compiled = (chains[c].invoke(body, content_type, content_type).body for c in ("false", "true"))
            assert plain == compiled, "the compiled plan answered other bytes"
            slow, fast = (p50(chains[c], body, args.requests, content_type) for c in ("false", "true"))
            print(f"{name:<12} {label:<10} {slow:>10.3f} ms {fast:>7.3f} ms {slow / fast:>8.1f}x  "
                  f"{loads['false']}; {loads['true']}")
    forest(featurizer_dir, args.requests)
    onnx_runtime(featurizer_dir, featurizer, featurizer_bodies["1 row"], args.requests)


def forest(featurizer_dir: Path, n: int) -> None:
    import joblib
    import numpy as np
    import pandas as pd
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor

    from serving.frameworks.sklearn.compiled import compile_model

    abalone = load_example("abalone/train.py")
    frame = pd.read_csv(ABALONE, header=None, names=abalone.FEATURES + [abalone.LABEL])
    features = joblib.load(featurizer_dir / "model.joblib").transform(frame[abalone.FEATURES])
    row = features[:1]
    n = min(n, 500)
    models = [("forest", RandomForestRegressor(100, random_state=0), "RandomForestRegressor, 100 trees"),
              ("boosted", HistGradientBoostingRegressor(max_iter=100, random_state=0),
               "HistGradientBoostingRegressor, 100 trees")]
    for name, model, what in models:
        model.fit(features, frame[abalone.LABEL])
        plan, cost = loaded(lambda: compile_model(model, "predict"))
        assert np.array_equal(plan.run(features), model.predict(features))
        slow, fast = median_ms(lambda: model.predict(row), n), median_ms(lambda: plan.run(row), n)
        print(f"{name:<12} {'1 row':<9} {slow:>10.3f} ms {fast:>7.3f} ms {slow / fast:>8.1f}x  "
              f"({what}, {type(plan.root.walk).__name__}; compiling it: {cost})")


def loaded(make) -> tuple[Any, str]:
    """What ``make()`` returns, and what making it cost: milliseconds, and the memory it
    allocated and kept (tracemalloc: Python's and NumPy's allocations, on a second making, as
    tracing slows the first's clock)."""
    t = time.perf_counter()
    made = make()
    elapsed = (time.perf_counter() - t) * 1e3
    tracemalloc.start()
    again = make()
    kept = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del again
    return made, f"{elapsed:.1f} ms, {kept / 1e6:.2f} MB"


def ensure_installed(*packages: str) -> None:
    """pip-install whichever of ``packages`` is missing (only this bench needs them)."""
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        print(f"installing {' '.join(missing)} (pip)", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing], check=True)
        importlib.invalidate_caches()


def onnx_runtime(featurizer_dir: Path, invoke_chain: Transformer, one_row: bytes, n: int) -> None:
    """ONNX Runtime's one-row ``run`` of the converted featurizer against ours, after checking
    its output against scikit-learn's on every abalone row."""
    ensure_installed("skl2onnx", "onnxruntime")
    import joblib
    import numpy as np
    import onnx
    import onnxruntime
    import pandas as pd
    import skl2onnx

    from serving import codecs
    from serving.frameworks.sklearn.compiled import compile_model

    abalone = load_example("abalone/train.py")
    frame = pd.read_csv(ABALONE, header=None, names=abalone.FEATURES + [abalone.LABEL])[abalone.FEATURES]
    featurizer = joblib.load(featurizer_dir / "model.joblib")
    model, note = onnx_model(featurizer, frame)
    opsets = ", ".join(sorted(f"{o.domain or 'ai.onnx'} {o.version}" for o in model.opset_import))
    print(f"\nskl2onnx {skl2onnx.__version__}, onnxruntime {onnxruntime.__version__}, onnx {onnx.__version__}"
          f" (opsets {opsets})\nconverted: {note}")

    def session(**options) -> onnxruntime.InferenceSession:
        settings = onnxruntime.SessionOptions()
        for key, value in options.items():
            setattr(settings, key, value)
        return onnxruntime.InferenceSession(model.SerializeToString(), settings, providers=["CPUExecutionProvider"])

    def feeds(rows: pd.DataFrame) -> dict:
        # one (rows, 1) array per column, as the converted model's inputs are declared
        return {name: rows[[name]].to_numpy(dtype=np.float32 if pd.api.types.is_numeric_dtype(rows[name]) else object)
                for name in rows.columns}

    # ONNX computes in float32: close to the trained featurizer's float64, not equal
    onnx_all = session().run(None, feeds(frame))[0]
    diff = float(np.abs(onnx_all - featurizer.transform(frame)).max())
    print(f"ONNX output against the trained featurizer's, all {len(frame)} rows: max abs difference {diff:.2e}"
          f" (ONNX {onnx_all.dtype}, scikit-learn float64)")
    assert diff < 1e-4, f"ONNX Runtime's output is {diff} away from scikit-learn's"

    # the same one row for everybody; inputs built once, outside the timed loops
    row, row_feeds = frame.iloc[:1], feeds(frame.iloc[:1])
    batch = codecs.REGISTRY["text/csv"].decode(one_row.decode(), frame=False)  # what invoke hands the plan
    plan = compile_model(featurizer, "transform")
    assert np.array_equal(plan.run(batch), plan.run(row)) and np.array_equal(plan.run(row), featurizer.transform(row))
    assert plan.row(batch.row) == featurizer.transform(row).tolist()[0]  # the one-row path, and its bits
    default, single = session(), session(intra_op_num_threads=1, inter_op_num_threads=1)
    ms = interleaved_ms({
        "onnx": lambda: default.run(None, row_feeds), "onnx 1 thread": lambda: single.run(None, row_feeds),
        "invoke": lambda: invoke_chain.invoke(one_row, "text/csv", "text/csv"),
        "frame": lambda: plan.run(row), "batch": lambda: plan.run(batch), "row": lambda: plan.row(batch.row),
    }, n)
    rows = [  # (ONNX Runtime, ours, what ours is)
        (ms["onnx"], ms["invoke"], "Transformer.invoke, compiled (decode + transform + encode)"),
        (ms["onnx"], ms["frame"], "compiled plan alone, on a 1-row DataFrame (array path)"),
        (ms["onnx"], ms["batch"], "compiled plan alone, on a ColumnBatch (array path)"),
        (ms["onnx"], ms["row"], "compiled plan alone, the decoded row's values (one-row path: what invoke runs)"),
        (ms["onnx 1 thread"], ms["row"], "the same, against an ONNX session on one thread"),
    ]
    print(f"{'model':<12} {'body':<9} {'ONNX Runtime':>13} {'ours':>10} {'ours/ONNX':>9}  ours is")
    for theirs, ours, what in rows:
        print(f"{'featurizer':<12} {'1 row':<9} {theirs:>10.3f} ms {ours:>7.3f} ms {ours / theirs:>8.2f}x  {what}")


def onnx_model(featurizer: Any, frame: Any) -> tuple[Any, str]:
    """skl2onnx's model of the featurizer, or of the nearest pipeline it accepts, and a
    sentence saying which one it converted and why."""
    import numpy as np
    import pandas as pd
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    from sklearn.base import clone

    # one (rows, 1) input per column: float32 for numbers, string for text
    inputs = [(name, (FloatTensorType if pd.api.types.is_numeric_dtype(frame[name]) else StringTensorType)([None, 1]))
              for name in frame.columns]
    try:
        return convert_sklearn(featurizer, initial_types=inputs), "the trained featurizer, as it is"
    except (NotImplementedError, RuntimeError) as exc:
        refused = f"{type(exc).__name__}: {exc}"
    # skl2onnx takes a string SimpleImputer only when its missing value is a string, and the
    # "sex" branch's matches NaN. The nearest pipeline: the same ColumnTransformer whose sex
    # imputer matches "" instead (same strategy and fill value), refit on the same abalone rows.
    nearest = clone(featurizer).set_params(sex__simpleimputer__missing_values="").fit(frame)
    same = np.array_equal(nearest.transform(frame), featurizer.transform(frame))
    note = (f"the featurizer refit with its sex SimpleImputer(missing_values=\"\") in place of NaN\n"
            f"  why: skl2onnx refused the trained one ({refused})\n"
            f"  the refit one's output {'equals' if same else 'differs from'} the trained one's on the {len(frame)} "
            f"abalone rows (none lacks sex); a missing sex must reach it as \"\", not NaN")
    return convert_sklearn(nearest, initial_types=inputs), note


if __name__ == "__main__":
    main()
