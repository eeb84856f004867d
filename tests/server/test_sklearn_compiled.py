"""The compiled scikit-learn plan gives scikit-learn's own numbers, and scikit-learn's errors.

Every expected value is scikit-learn's method on the same input; the plan is checked bit for
bit (``assert_array_equal``), one row and many, on generated data with NaNs, unseen
categories and extreme values.
"""

from __future__ import annotations

import pickle

import joblib
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.compose import ColumnTransformer
from sklearn.decomposition import PCA
from sklearn.impute import SimpleImputer
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import (
    Binarizer, MaxAbsScaler, MinMaxScaler, OneHotEncoder, OrdinalEncoder, RobustScaler, StandardScaler,
)

from serving import codecs
from serving.frameworks.sklearn.compiled import Categories, compile_model
from tests.conftest import ABALONE

NAMES = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]
FINITE = st.floats(-1e6, 1e6, allow_nan=False)
WITH_NAN = st.one_of(FINITE, st.just(float("nan")))
CATEGORIES = st.sampled_from(["a", "b", "c", "zz", float("nan")])


def same(plan, estimator, X, method="transform"):
    """The plan gives scikit-learn's array, or raises where scikit-learn raises (the container
    then lets scikit-learn word the error)."""
    try:
        expected = getattr(estimator, method)(X)
    except ValueError:
        with pytest.raises(Exception):
            plan.run(X)
        same_rows(plan, estimator, X, method)
        return
    expected = expected.toarray() if hasattr(expected, "toarray") else expected
    given = pickle.dumps(X)
    got = plan.run(X)
    assert pickle.dumps(X) == given, "the plan wrote into its input"  # its in-place steps work on their own arrays
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == np.asarray(expected).dtype
    same_rows(plan, estimator, X, method, expected)


def decoded_rows(X) -> list[list] | None:
    """Each row of ``X`` as a decoder hands it to the one-row path (Python floats and strings),
    when ``X`` holds what a decoder gives: float64 numbers or objects."""
    if isinstance(X, pd.DataFrame):
        if not all(dtype == np.float64 or dtype == object for dtype in X.dtypes):
            return None
        return [list(row) for row in X.itertuples(index=False)]
    X = np.asarray(X)
    if X.ndim != 2 or X.dtype not in (np.float64, object):
        return None
    return X.tolist()


def same_rows(plan, estimator, X, method, expected=None):
    """The one-row path, row by row: scikit-learn's numbers with the same bits (sign of zero
    included), or None, where the array path then answers or raises as above."""
    rows = decoded_rows(X)
    for i, values in enumerate(rows or ()):
        got = plan.row(values)
        if got is None:
            continue
        if expected is None:
            try:
                want = np.asarray(getattr(estimator, method)(X[i:i + 1] if not isinstance(X, pd.DataFrame) else X.iloc[i:i + 1]))
            except ValueError:
                raise AssertionError(f"row {values} answered {got}; scikit-learn refuses it") from None
            want = want[0]
        else:
            want = np.asarray(expected)[i]
        assert want.dtype == np.float64, (values, got, want.dtype)
        got = np.array(got)
        np.testing.assert_array_equal(got, want)
        assert np.array_equal(np.signbit(got), np.signbit(want)) or np.isnan(want).any(), (values, got, want)


ROW_STEPS = [
    (SimpleImputer(strategy="median"), [[1.0, np.nan], [3.0, 4.0], [5.0, 8.0]], [np.nan, 2.5]),
    (SimpleImputer(add_indicator=True), [[1.0, np.nan], [3.0, 4.0]], [np.nan, np.nan]),
    (make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(sparse_output=False)),
     [["a"], ["a"], ["b"], [np.nan]], [np.nan]),  # the text imputer's output is text: only an encoder after it makes floats
    (StandardScaler(), [[1.0, -2.0], [3.0, 7.5]], [0.3, np.nan]),
    (RobustScaler(), [[1.0, -2.0], [3.0, 7.5], [4.0, 1.0]], [0.3, -0.0]),
    (MinMaxScaler(), [[1.0, -2.0], [3.0, 7.5]], [9.0, -1e300]),
    (MaxAbsScaler(), [[1.0, -2.0], [3.0, 7.5]], [0.1, 2.0]),
    (OneHotEncoder(handle_unknown="ignore", sparse_output=False), [["a", "x"], ["b", "y"]], ["b", "never"]),
    (OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1), [["a", "x"], ["b", "y"]], ["b", "never"]),
    (make_pipeline(SimpleImputer(), StandardScaler()), [[1.0, np.nan], [3.0, 4.0]], [np.nan, 1e-300]),
]


@pytest.mark.parametrize("estimator, fit, row", ROW_STEPS, ids=lambda v: type(v).__name__ if hasattr(v, "fit") else "")
def test_the_one_row_path_takes_the_steps_it_covers(estimator, fit, row):
    """What the property tests check row by row only counts if the one-row path runs: for each
    step it covers it answers (not None), with scikit-learn's bits."""
    estimator.fit(np.array(fit, dtype=object if isinstance(fit[0][0], str) else np.float64))
    plan = compile_model(estimator, "transform")
    got = plan.row(list(row))
    assert got is not None
    want = estimator.transform(np.array([row], dtype=object if any(isinstance(v, str) for v in row) else np.float64))
    np.testing.assert_array_equal(np.array(got), want[0])
    assert np.array_equal(np.signbit(got), np.signbit(want[0]))


def test_the_abalone_featurizer_and_regressor_compile_whole_and_answer_as_scikit_learn(abalone_models):
    featurizer = joblib.load(abalone_models[0] / "model.joblib")
    regressor = joblib.load(abalone_models[1] / "model.joblib")
    frame = pd.read_csv(ABALONE, header=None, names=NAMES + ["rings"])[NAMES]
    plan = compile_model(featurizer, "transform")
    assert plan.complete and plan.summary() == (
        "compiled: ColumnTransformer, numeric/simpleimputer, numeric/standardscaler, sex/simpleimputer, "
        "sex/onehotencoder")
    for rows in (frame.iloc[:1], frame.iloc[:7], frame):
        same(plan, featurizer, rows)
    one = codecs.REGISTRY["text/csv"].decode("M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\n", frame=False)
    assert one.row == ["M", 0.455, 0.365, 0.095, 0.514, 0.2245, 0.101, 0.15]
    assert plan.row(one.row) == featurizer.transform(frame.iloc[:1]).tolist()[0]  # the one-row path takes it whole
    features = featurizer.transform(frame)
    same(compile_model(regressor, "predict"), regressor, features, "predict")
    same(compile_model(regressor, "predict"), regressor, features[:1], "predict")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["mean", "median", "most_frequent", "constant"]), st.integers(1, 30), st.data())
def test_simple_imputer_numeric(strategy, rows, data):
    fit = np.array(data.draw(st.lists(st.lists(WITH_NAN, min_size=3, max_size=3), min_size=rows, max_size=rows)))
    imputer = SimpleImputer(strategy=strategy, fill_value=-7.5).fit(fit)
    X = np.array(data.draw(st.lists(st.lists(WITH_NAN, min_size=3, max_size=3), min_size=1, max_size=20)))
    same(compile_model(imputer, "transform"), imputer, X)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["most_frequent", "constant"]), st.data())
def test_simple_imputer_text(strategy, data):
    fit = np.array(data.draw(st.lists(st.lists(CATEGORIES, min_size=2, max_size=2), min_size=1, max_size=20)), dtype=object)
    imputer = SimpleImputer(strategy=strategy, fill_value="missing").fit(fit)
    X = np.array(data.draw(st.lists(st.lists(CATEGORIES, min_size=2, max_size=2), min_size=1, max_size=10)), dtype=object)
    same(compile_model(imputer, "transform"), imputer, X)


@settings(max_examples=60, deadline=None)
@given(st.booleans(), st.booleans(), st.data())
def test_standard_scaler(with_mean, with_std, data):
    fit = np.array(data.draw(st.lists(st.lists(FINITE, min_size=4, max_size=4), min_size=2, max_size=30)))
    scaler = StandardScaler(with_mean=with_mean, with_std=with_std).fit(fit)
    X = np.array(data.draw(st.lists(st.lists(WITH_NAN, min_size=4, max_size=4), min_size=1, max_size=20)))
    same(compile_model(scaler, "transform"), scaler, X)


SCALERS = [StandardScaler(), StandardScaler(with_mean=False), RobustScaler(), RobustScaler(with_centering=False),
           MinMaxScaler(), MinMaxScaler(feature_range=(-2, 3), clip=True), MaxAbsScaler(), MaxAbsScaler(clip=True),
           Binarizer(threshold=0.25)]


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(SCALERS), st.sampled_from([np.float64, np.float32]), st.data())
def test_scalers_keep_scikit_learns_numbers_and_float_type(scaler, dtype, data):
    fit = np.array(data.draw(st.lists(st.lists(FINITE, min_size=3, max_size=3), min_size=2, max_size=30)))
    scaler = type(scaler)(**scaler.get_params()).fit(fit)
    X = np.array(data.draw(st.lists(st.lists(st.one_of(FINITE, st.just(float("nan")), st.just(1e300)), min_size=3,
                                             max_size=3), min_size=1, max_size=20))).astype(dtype)
    plan = compile_model(scaler, "transform")
    assert plan.complete
    same(plan, scaler, X)


def test_the_imputer_keeps_float32():
    imputer = SimpleImputer(strategy="mean").fit(np.array([[1.0, 2.0], [np.nan, 3.0]]))
    X = np.array([[np.nan, 1.5]], dtype=np.float32)
    same(compile_model(imputer, "transform"), imputer, X)
    assert compile_model(imputer, "transform").run(X).dtype == np.float32
    same(compile_model(imputer, "transform"), imputer, np.array([[np.inf, 1.0]]))  # refused by both


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_one_hot_encoder_ignores_unseen_categories_and_keeps_nan_as_one(data):
    fit = np.array(data.draw(st.lists(st.lists(CATEGORIES, min_size=2, max_size=2), min_size=1, max_size=20)), dtype=object)
    encoder = OneHotEncoder(handle_unknown="ignore").fit(fit)
    X = np.array(data.draw(st.lists(st.lists(CATEGORIES, min_size=2, max_size=2), min_size=1, max_size=10)), dtype=object)
    same(compile_model(encoder, "transform"), encoder, X)


def test_one_hot_encoder_of_numbers():
    encoder = OneHotEncoder(sparse_output=False).fit(np.array([[1.0, 3.0], [2.0, np.nan], [1.0, 3.0]]))
    same(compile_model(encoder, "transform"), encoder, np.array([[2.0, np.nan], [1.0, 3.0]]))


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["drop", "passthrough"]), st.data())
def test_column_transformer_on_named_frames(remainder, data):
    n = data.draw(st.integers(2, 25))
    frame = pd.DataFrame({
        "kind": data.draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n)),
        "x": data.draw(st.lists(WITH_NAN, min_size=n, max_size=n)),
        "y": data.draw(st.lists(FINITE, min_size=n, max_size=n)),
        "z": data.draw(st.lists(FINITE, min_size=n, max_size=n)),
    })
    model = ColumnTransformer([
        ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), ["x", "y"]),
        ("cat", OneHotEncoder(handle_unknown="ignore"), ["kind"]),
    ], remainder=remainder).fit(frame)
    plan = compile_model(model, "transform")
    assert plan.complete
    same(plan, model, frame)
    same(plan, model, frame.iloc[:1])
    frame.loc[0, "kind"] = "never seen"
    same(plan, model, frame)


@pytest.mark.parametrize("regressor", [LinearRegression(), Ridge(alpha=0.5), Lasso(alpha=0.01), ElasticNet(alpha=0.01)])
def test_linear_regressors(regressor):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 6)) * [1, 10, 100, 1e-3, 5, 1]
    regressor.fit(X, X @ [1.0, -2.0, 0.5, 3.0, 0.0, 1.5] + rng.normal(size=200))
    plan = compile_model(regressor, "predict")
    for rows in (X[:1], X[:13], X):
        same(plan, regressor, rows, "predict")


def test_an_unknown_step_runs_through_scikit_learn():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4))
    model = make_pipeline(StandardScaler(), PCA(n_components=2), Ridge()).fit(X, X[:, 0])
    plan = compile_model(model, "predict")
    assert not plan.complete
    assert plan.summary() == "compiled: standardscaler, ridge; run by scikit-learn: pca"
    same(plan, model, X, "predict")


# -- served: the same answers and the same errors as without the compiler ----------------
@pytest.fixture(scope="module")
def refusing_model(tmp_path_factory):
    """A featurizer that refuses unknown categories (handle_unknown='error')."""
    frame = pd.read_csv(ABALONE, header=None, names=NAMES + ["rings"])[NAMES]
    model = ColumnTransformer([("sex", OneHotEncoder(handle_unknown="error"), ["sex"]),
                               ("num", StandardScaler(), NAMES[1:])]).fit(frame)
    folder = tmp_path_factory.mktemp("refusing")
    joblib.dump(model, folder / "model.joblib")
    return folder


@pytest.mark.parametrize("body, content_type", [
    ("M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\nF,0.53,0.42,0.135,0.677,0.2565,0.1415,0.21\n", "text/csv"),
    ("X,0.455,0.365,0.095,0.514,0.2245,0.101,0.15\n", "text/csv"),  # an unknown category: scikit-learn's 400
    ("M,abc,0.365,0.095,0.514,0.2245,0.101,0.15\n", "text/csv"),  # a string in a numeric column
    ("M,0.455,0.365\n", "text/csv"),  # too few columns
    ('[["M", 0.455, 0.365, 0.095, 0.514, 0.2245, 0.101, 0.15], ["F", 0.53, 0.42, 0.135, 0.677, 0.2565, 0.1415, 0.21]]',
     "application/json"),  # JSON rows reach the plan as columns too
    ('{"instances": [["I", 0.455, 0.365, 0.095, 0.514, 0.2245, 0.101, 0.15]]}', "application/json"),
    ('[["X", 0.455, 0.365, 0.095, 0.514, 0.2245, 0.101, 0.15]]', "application/json"),
    ('[["M", "abc", 0.365, 0.095, 0.514, 0.2245, 0.101, 0.15]]', "application/json"),
    ('[{"sex": "M", "length": 0.455, "diameter": 0.365, "height": 0.095, "whole_weight": 0.514, '
     '"shucked_weight": 0.2245, "viscera_weight": 0.101, "shell_weight": 0.15}]', "application/json"),  # a record
])
def test_served_answers_and_errors_are_those_without_the_compiler(serve, refusing_model, body, content_type):
    compiled = serve(refusing_model, framework="sklearn")
    plain = serve(refusing_model, framework="sklearn", env={"SERVING_SKLEARN_COMPILE": "false"})
    got = compiled.invoke(body, content_type=content_type, accept="text/csv")
    want = plain.invoke(body, content_type=content_type, accept="text/csv")
    assert (got.status_code, got.headers["Content-Type"], got.content) == (
        want.status_code, want.headers["Content-Type"], want.content)
    assert "scikit-learn ColumnTransformer.transform: compiled: ColumnTransformer, sex, num" in compiled.log()
    assert "compiled:" not in plain.log()


def test_function_transformer_of_a_ufunc():
    from sklearn.preprocessing import FunctionTransformer

    model = make_pipeline(FunctionTransformer(np.log1p), StandardScaler()).fit(np.abs(np.random.default_rng(1).normal(size=(30, 3))))
    plan = compile_model(model, "transform")
    assert plan.complete
    same(plan, model, np.array([[0.5, 2.0, np.nan], [0.0, 1e6, 3.0]]))


TREES = ["DecisionTreeRegressor", "RandomForestRegressor", "ExtraTreesRegressor",
         "DecisionTreeClassifier", "RandomForestClassifier", "ExtraTreesClassifier"]


def tree_model(name: str, seed: int):
    import sklearn.ensemble
    import sklearn.tree

    cls = getattr(sklearn.tree, name, None) or getattr(sklearn.ensemble, name)
    params = {"random_state": seed}
    if "Forest" in name or "Extra" in name:
        params["n_estimators"] = 7
    return cls(**params)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TREES), st.integers(0, 2**16), st.data())
def test_trees_and_forests(name, seed, data):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(60, 3)) * data.draw(st.sampled_from([1.0, 1e-6, 1e6]))
    y = X[:, 0] + X[:, 1] ** 2
    model = tree_model(name, seed)
    model.fit(X, (y > np.median(y)).astype(int) + (y > np.quantile(y, 0.8)) if "Classifier" in name else y)
    rows = np.array(data.draw(st.lists(st.lists(st.one_of(FINITE, st.sampled_from([0.0, 1e30, -1e30])),
                                                min_size=3, max_size=3), min_size=1, max_size=15)))
    for method in ("predict", "predict_proba") if "Classifier" in name else ("predict",):
        plan = compile_model(model, method)
        assert plan.complete
        same(plan, model, rows, method)
        same(plan, model, X, method)


def test_a_row_with_a_missing_value_goes_to_scikit_learn(serve, tmp_path):
    """The plan leaves NaN routing to scikit-learn: the container's answer is scikit-learn's."""
    from sklearn.ensemble import RandomForestRegressor

    X = np.random.default_rng(2).normal(size=(80, 3))
    model = RandomForestRegressor(10, random_state=0).fit(X, X[:, 0])
    with pytest.raises(ValueError):
        compile_model(model, "predict").run(np.array([[np.nan, 1.0, 2.0]]))
    joblib.dump(model, tmp_path / "model.joblib")
    r = serve(tmp_path, framework="sklearn").invoke("0.5,,1.5\n1,2,3\n", accept="application/json")
    assert r.status_code == 200, r.text
    np.testing.assert_array_equal(r.json(), model.predict(np.array([[0.5, np.nan, 1.5], [1, 2, 3]])))


BOOSTING = [("HistGradientBoostingRegressor", {}), ("HistGradientBoostingRegressor", {"loss": "poisson"}),
            ("HistGradientBoostingRegressor", {"loss": "quantile", "quantile": 0.8}),
            ("HistGradientBoostingClassifier", {}), ("GradientBoostingRegressor", {}),
            ("GradientBoostingRegressor", {"loss": "huber", "init": "zero"}), ("GradientBoostingClassifier", {}),
            ("GradientBoostingClassifier", {"max_depth": 7})]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(BOOSTING), st.integers(1, 3), st.integers(0, 2**16), st.data())
def test_gradient_boosting(model, classes, seed, data):
    """Every loss's link, binary and multiclass sums; HistGradientBoosting* route NaN as fitted
    and read infinities, GradientBoosting* refuse both (scikit-learn words the error)."""
    import sklearn.ensemble

    name, params = model
    hist = name.startswith("Hist")
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(150, 3)) * data.draw(st.sampled_from([1.0, 1e-6, 1e6]))
    if hist:
        X[rng.random(X.shape) < 0.1] = np.nan
    signal = np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) ** 2
    classifier = "Classifier" in name
    y = np.digitize(signal, np.quantile(signal, np.linspace(0, 1, classes + 2)[1:-1])) if classifier else signal
    if params.get("loss") == "poisson":
        y = np.abs(y)
    iterations = {"max_iter": 12} if hist else {"n_estimators": 12}
    estimator = getattr(sklearn.ensemble, name)(**params, **iterations, random_state=seed).fit(X, y)
    values = [FINITE, st.sampled_from([0.0, float("nan"), float("inf"), -float("inf"), 1e30])]
    rows = np.array(data.draw(st.lists(st.lists(st.one_of(*values), min_size=3, max_size=3), min_size=1, max_size=15)))
    for method in ("predict", "predict_proba", "decision_function") if classifier else ("predict",):
        plan = compile_model(estimator, method)
        assert plan.complete and plan.summary() == f"compiled: {name}"
        same(plan, estimator, rows, method)
        same(plan, estimator, rows[:1], method)
        same(plan, estimator, X, method)


@pytest.mark.parametrize("name, params", [
    ("RandomForestRegressor", {"n_estimators": 5}), ("RandomForestClassifier", {"n_estimators": 5}),
    ("GradientBoostingRegressor", {"max_depth": 9, "n_estimators": 5}),
    ("HistGradientBoostingRegressor", {"max_leaf_nodes": 300, "min_samples_leaf": 2, "max_iter": 5}),
])
def test_trees_of_more_than_64_leaves_are_walked_level_by_level(name, params):
    import sklearn.ensemble

    from serving.frameworks.trees import DepthWalk

    rng = np.random.default_rng(9)
    X = rng.normal(size=(2000, 4))
    if name.startswith("Hist"):
        X[rng.random(X.shape) < 0.1] = np.nan
    y = np.nan_to_num(X[:, 0]) * 3 + np.nan_to_num(X[:, 1]) ** 2 + rng.normal(size=2000)
    estimator = getattr(sklearn.ensemble, name)(**params, random_state=0).fit(X, (y > 1) if "Classifier" in name else y)
    rows = np.vstack([X[:50], [[1e30, -1e30, 0.0, 0.5]], rng.normal(size=(20, 4)) * 3])
    for method in ("predict", "predict_proba") if "Classifier" in name else ("predict",):
        plan = compile_model(estimator, method)
        assert isinstance(plan.root.walk, DepthWalk)
        same(plan, estimator, rows, method)
        same(plan, estimator, rows[:1], method)


LINEAR_CLASSIFIERS = ["LogisticRegression", "SGDClassifier", "LinearSVC", "RidgeClassifier", "Perceptron"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(LINEAR_CLASSIFIERS), st.integers(2, 4), st.sampled_from([np.float64, np.float32]),
       st.integers(0, 2**16), st.data())
def test_linear_classifiers(name, classes, dtype, seed, data):
    import sklearn.linear_model
    import sklearn.svm

    cls = getattr(sklearn.linear_model, name, None) or getattr(sklearn.svm, name)
    params = {"loss": "log_loss"} if name == "SGDClassifier" else {"max_iter": 5000} if name == "LogisticRegression" else {}
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(120, 4)) * [1, 10, 100, 1e-3]
    score = X @ [1.0, -0.2, 0.01, 300] + rng.normal(size=120)
    y = np.array(["cat", "dog", "eel", "fox"])[np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))]
    estimator = cls(**params).fit(X, y)
    rows = np.array(data.draw(st.lists(st.lists(st.one_of(FINITE, st.sampled_from([0.0, float("nan"), 1e300])),
                                                min_size=4, max_size=4), min_size=1, max_size=12)))
    with np.errstate(over="ignore"):  # 1e300 is infinite in float32
        rows = rows.astype(dtype)
    methods = ["predict", "decision_function"] + ["predict_proba"] * (name in ("LogisticRegression", "SGDClassifier"))
    for method in methods:
        plan = compile_model(estimator, method)
        assert plan.complete
        same(plan, estimator, rows, method)
        same(plan, estimator, X.astype(dtype), method)


@pytest.mark.parametrize("regressor", ["SGDRegressor", "LinearSVR"])
def test_more_linear_regressors(regressor):
    import sklearn.linear_model
    import sklearn.svm

    rng = np.random.default_rng(5)
    X = rng.normal(size=(200, 3))
    estimator = (getattr(sklearn.linear_model, regressor, None) or getattr(sklearn.svm, regressor))()
    estimator.fit(X, X @ [2.0, -1.0, 0.5])
    for rows in (X[:1], X):
        same(compile_model(estimator, "predict"), estimator, rows, "predict")


def test_decoded_columns_reach_any_plan_as_rows():
    """A CSV body's typed columns (a ColumnBatch) are columns, not rows, whatever the plan's first step."""
    from serving import codecs
    from serving.codecs import MediaType

    batch = codecs.REGISTRY["text/csv"].decode("a,x\nb,y\n", frame=False)
    encoder = OneHotEncoder(handle_unknown="ignore").fit(np.array([["a", "x"], ["b", "y"]], dtype=object))
    np.testing.assert_array_equal(compile_model(encoder, "transform").run(batch),
                                  encoder.transform(codecs.decode(b"a,x\nb,y\n", MediaType.parse("text/csv"))).toarray())


# -- more featurizer steps ------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["mean", "median", "most_frequent", "constant"]), st.booleans(), st.data())
def test_simple_imputer_with_its_missing_indicator(strategy, keep_empty, data):
    """The mask of the columns that had missing values at fit is appended, even where a row has none."""
    fit = np.array(data.draw(st.lists(st.lists(WITH_NAN, min_size=3, max_size=3), min_size=1, max_size=15)))
    imputer = SimpleImputer(strategy=strategy, add_indicator=True, keep_empty_features=keep_empty).fit(fit)
    X = np.array(data.draw(st.lists(st.lists(WITH_NAN, min_size=3, max_size=3), min_size=1, max_size=10)))
    plan = compile_model(imputer, "transform")
    assert plan.complete
    same(plan, imputer, X)


ENCODER_VALUES = st.sampled_from(["a", "b", "c", "d", "e", "never", float("nan")])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([None, "first", "if_binary", ["b", "a"]]),
       st.sampled_from(["ignore", "error", "infrequent_if_exist", "warn"]),
       st.sampled_from([None, 3, 0.2]), st.sampled_from([None, 2, 3]), st.data())
def test_one_hot_encoder_drop_and_infrequent_categories(drop, unknown, min_frequency, max_categories, data):
    import warnings

    common = st.sampled_from(["a", "a", "a", "b", "b", "c", "d", "e", float("nan")])
    fit = np.array(data.draw(st.lists(st.lists(common, min_size=2, max_size=2), min_size=4, max_size=40)), dtype=object)
    if isinstance(drop, list):
        fit[:2] = [["b", "a"], ["a", "b"]]  # the categories to drop are seen
    try:
        encoder = OneHotEncoder(drop=drop, handle_unknown=unknown, min_frequency=min_frequency,
                                max_categories=max_categories, sparse_output=False).fit(fit)
    except (ValueError, AttributeError):  # a combination scikit-learn refuses to fit (or fails on)
        return
    X = np.array(data.draw(st.lists(st.lists(ENCODER_VALUES, min_size=2, max_size=2), min_size=1, max_size=10)),
                 dtype=object)
    plan = compile_model(encoder, "transform")
    assert plan.complete
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-learn warns of unknown values it drops
        same(plan, encoder, X)
        same(plan, encoder, fit)


# values a decoder or a user's object array may hold beside the fitted strings: equal to no
# string (numbers, None, bytes, a bool) but hashable, so that the hash index answers for them
ODD_VALUES = st.one_of(st.sampled_from(["a", "b", "zz", "A", "a ", "", "1", None, b"a", True, 1, 1.0, float("nan")]),
                       st.text(max_size=3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["onehot", "ordinal"]), st.data())
def test_string_categories_on_many_rows_are_looked_up_as_scikit_learn_does(kind, data):
    """From Categories.MANY rows on, an object column is looked up in pandas' hash index: the
    same codes as scikit-learn's dict, whatever the values' types."""
    fit = np.array(data.draw(st.lists(st.lists(CATEGORIES, min_size=2, max_size=2), min_size=1, max_size=20)), dtype=object)
    encoder = (OneHotEncoder(handle_unknown="ignore", sparse_output=False) if kind == "onehot"
               else OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)).fit(fit)
    rows = data.draw(st.lists(st.lists(ODD_VALUES, min_size=2, max_size=2), min_size=64, max_size=150))
    X = np.empty((len(rows), 2), dtype=object)
    X[:] = rows
    plan = compile_model(encoder, "transform")
    assert plan.complete and len(X) >= Categories.MANY
    same(plan, encoder, X)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["error", "use_encoded_value"]), st.sampled_from([float("nan"), -2.0]),
       st.sampled_from([np.float64, np.float32]), st.data())
def test_ordinal_encoder_unknown_and_missing_values(unknown, missing, dtype, data):
    fit = np.array(data.draw(st.lists(st.lists(CATEGORIES, min_size=2, max_size=2), min_size=1, max_size=20)), dtype=object)
    encoder = OrdinalEncoder(handle_unknown=unknown, unknown_value=-1 if unknown != "error" else None,
                             encoded_missing_value=missing, dtype=dtype).fit(fit)
    X = np.array(data.draw(st.lists(st.lists(ENCODER_VALUES, min_size=2, max_size=2), min_size=1, max_size=10)),
                 dtype=object)
    plan = compile_model(encoder, "transform")
    assert plan.complete
    same(plan, encoder, X)


MANY = st.lists(st.lists(st.one_of(FINITE, st.sampled_from([0.0, float("nan"), 1e300, -1e-300])), min_size=4,
                         max_size=4), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["ordinal", "onehot-dense", "onehot"]), st.sampled_from(["uniform", "quantile", "kmeans"]),
       st.sampled_from([None, np.float32]), st.sampled_from([np.float64, np.float32]), st.data())
def test_kbins_discretizer(encode, strategy, dtype, given_dtype, data):
    import warnings

    from sklearn.preprocessing import KBinsDiscretizer

    fit = np.random.default_rng(data.draw(st.integers(0, 1000))).normal(size=(40, 4)) * [1, 1e6, 1e-6, 3]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # bins too narrow are merged, with a warning
        model = KBinsDiscretizer(n_bins=4, encode=encode, strategy=strategy, dtype=dtype).fit(fit)
    with np.errstate(over="ignore"):
        X = np.array(data.draw(MANY)).astype(given_dtype)
    plan = compile_model(model, "transform")
    assert plan.complete
    same(plan, model, X)
    same(plan, model, fit)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["l1", "l2", "max"]), st.data())
def test_normalizer(norm, data):
    from sklearn.preprocessing import Normalizer

    width = data.draw(st.sampled_from([3, 12]))  # past 8 columns a row sum is summed pairwise
    X = np.array(data.draw(st.lists(st.lists(st.one_of(FINITE, st.sampled_from([0.0, 1e-300, float("nan")])),
                                             min_size=width, max_size=width), min_size=1, max_size=10)))
    model = Normalizer(norm=norm).fit(np.ones((2, width)))  # a Normalizer learns nothing but the width
    for rows in (X, np.asfortranarray(X), pd.DataFrame(X)):
        same(compile_model(model, "transform"), model, rows)


@pytest.mark.parametrize("degree", [1, 2, 3, (2, 3), (3, 3), (0, 2)])
@pytest.mark.parametrize("interaction_only", [False, True])
@pytest.mark.parametrize("bias", [False, True])
def test_polynomial_features(degree, interaction_only, bias):
    from sklearn.preprocessing import PolynomialFeatures

    rng = np.random.default_rng(3)
    X = rng.normal(size=(30, 4)) * [1, 1e3, 1e-3, 7]
    model = PolynomialFeatures(degree=degree, interaction_only=interaction_only, include_bias=bias).fit(X)
    plan = compile_model(model, "transform")
    assert plan.complete
    for rows in (X, X[:1], X.astype(np.float32), np.array([[np.nan, 1, 2, 3]])):
        same(plan, model, rows)


def test_feature_union_with_weights_passthrough_and_an_unknown_part():
    from sklearn.pipeline import FeatureUnion

    rng = np.random.default_rng(6)
    X = rng.normal(size=(40, 5))
    model = FeatureUnion([("scaled", StandardScaler()), ("pca", PCA(2)), ("raw", "passthrough"), ("gone", "drop"),
                          ("flags", make_pipeline(MinMaxScaler(), Binarizer(threshold=0.5)))],
                         transformer_weights={"scaled": 2.0, "raw": 0.5}).fit(X)
    plan = compile_model(model, "transform")
    assert plan.summary() == ("compiled: FeatureUnion, scaled, raw, flags/minmaxscaler, flags/binarizer; "
                              "run by scikit-learn: pca")
    for rows in (X, X[:1]):
        same(plan, model, rows)


def test_many_rows_are_encoded_as_a_few_are():
    """From 64 rows the encoders look values up in pandas' hash index, where it agrees with
    scikit-learn's dict: the same codes for strings, NaN, unknown values, numbers, and a
    column of mixed types (which keeps the dict)."""
    rng = np.random.default_rng(8)
    words = np.array(["a", "b", "c", "zz", "never", float("nan")], dtype=object)
    fit = np.column_stack([words[rng.integers(0, 4, 300)], rng.integers(0, 3, 300).astype(float)]).astype(object)
    fit[:3, 0] = float("nan")
    fit[:, 1] = fit[:, 1].astype(float)
    X = np.column_stack([words[rng.integers(0, 6, 200)], rng.integers(0, 5, 200).astype(float)]).astype(object)
    mixed = X.copy()
    mixed[5, 0], mixed[6, 1] = 7, True  # an int among strings; True == 1.0 to Python, as to scikit-learn
    numbers = np.array(X[:, 1:], dtype=float)
    numbers[:4] = [[np.nan], [-0.0], [1.0], [9.0]]
    for make in (lambda: OneHotEncoder(handle_unknown="ignore", sparse_output=False),
                 lambda: OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)):
        encoder = make().fit(fit)
        plan = compile_model(encoder, "transform")
        assert plan.root.features[0].index is not None  # the strings' hash index: what X's column goes through
        for rows in (X, mixed):
            same(plan, encoder, rows)
        encoder = make().fit(np.array(fit[:, 1:], dtype=float))
        same(compile_model(encoder, "transform"), encoder, numbers)
