"""The regressor's entry point for SageMaker's XGBoost container in script mode (the SDK's
``XGBoostModel``): ``model_fn`` loads the booster the training job saved; decoding, predicting
and encoding are the container's script-mode defaults."""

import os

import xgboost as xgb


def model_fn(model_dir):
    booster = xgb.Booster()
    booster.load_model(os.path.join(model_dir, "xgboost-model"))
    return booster
