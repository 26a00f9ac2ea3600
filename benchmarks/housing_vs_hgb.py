"""California housing: a zoobench checkpoint's test RMSE beside scikit-learn's HistGradientBoostingRegressor
on the same split (the loader's rows, imputation and features; issue 11's wide_deep bar asks for both).

    ZOO_DATA=... python benchmarks/housing_vs_hgb.py [CHECKPOINT_OR_RUN_FOLDER ...]

HistGradientBoosting gets the training rows, its iteration count chosen on the validation rows; each checkpoint is evaluated on the test rows by its own task.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.metrics import mean_squared_error

import zoo
from zoo.training import load_data


def main(paths: list[str]) -> None:
    dm = load_data("california_housing", batch_size=256, seed=0, data_options={"split_seed": 0})
    x = {s: dm.inputs(s).numpy() for s in ("train", "val", "test")}
    y = {s: dm.targets(s).numpy().ravel() for s in ("train", "val", "test")}
    t = time.perf_counter()
    # No subsampling and no internal split, so the fit is deterministic; the number of boosting iterations
    # is chosen on our validation rows, as zoobench chooses its best epoch.
    hgb = HistGradientBoostingRegressor(max_iter=2000, learning_rate=0.05, early_stopping=False).fit(x["train"], y["train"])
    val = [mean_squared_error(y["val"], p) ** 0.5 for p in hgb.staged_predict(x["val"])]
    best = int(np.argmin(val))
    test = [mean_squared_error(y["test"], p) ** 0.5 for p in hgb.staged_predict(x["test"])][best]
    print(f"HistGradientBoostingRegressor (lr 0.05, {best + 1} iterations chosen on val): val RMSE {val[best]:.4f}, "
          f"test RMSE {test:.4f} ({time.perf_counter() - t:.1f} s)")
    for path in paths:
        task = zoo.load_checkpoint(path)
        metrics, _ = task.evaluate(dm.test_dataloader())
        print(f"{path}: test RMSE {metrics['rmse']:.4f}")


if __name__ == "__main__":
    main(sys.argv[1:])
