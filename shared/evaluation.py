"""Common evaluation: accuracy, top-k, per-class report, confusion-matrix PNG.

Metrics come from scikit-learn; the confusion matrix is drawn with
scikit-learn's `ConfusionMatrixDisplay` on a headless matplotlib backend.
"""
import json

import numpy as np
from sklearn import metrics as skm


def classification_metrics(y_true, probabilities, class_names, top_k=(5,)):
    """A JSON-ready dict: accuracy, n, top-k accuracies, per-class precision/recall/F1."""
    y_true = np.asarray(y_true)
    probabilities = np.asarray(probabilities)
    y_pred = probabilities.argmax(axis=1)
    labels = np.arange(len(class_names))
    result = {
        "accuracy": float(skm.accuracy_score(y_true, y_pred)),
        "n": int(len(y_true)),
    }
    for k in top_k:
        if k < len(class_names):
            result[f"top{k}_accuracy"] = float(
                skm.top_k_accuracy_score(y_true, probabilities, k=k, labels=labels))
    report = skm.classification_report(y_true, y_pred, labels=labels, target_names=list(map(str, class_names)),
                                       output_dict=True, zero_division=0)
    result["per_class"] = {name: {k: round(float(v), 4) for k, v in report[str(name)].items()}
                           for name in map(str, class_names)}
    result["macro_f1"] = float(report["macro avg"]["f1-score"])
    return result


def top_k_hits(y_true, probabilities, k):
    """How many of `y_true` are among the `k` most probable classes of their row
    (scikit-learn's top-k accuracy, as a count, so that batches can be added up)."""
    probabilities = np.asarray(probabilities)
    return int(skm.top_k_accuracy_score(y_true, probabilities, k=k, normalize=False,
                                        labels=np.arange(probabilities.shape[1])))


def confusion_matrix_png(y_true, y_pred, class_names, path, title=None):
    """Write a confusion-matrix PNG (counts) to `path`."""
    from shared.plots import pyplot, save_figure
    plt = pyplot()

    size = max(5, 0.5 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    skm.ConfusionMatrixDisplay.from_predictions(
        y_true, y_pred, labels=np.arange(len(class_names)), display_labels=list(map(str, class_names)),
        ax=ax, colorbar=False, xticks_rotation=45, values_format="d")
    if title:
        ax.set_title(title)
    return save_figure(fig, path, dpi=100)


def report_evaluation(args, metrics, y_true, probabilities, class_names, title, details=""):
    """The end of every app's `evaluate`: a confusion-matrix PNG when `--confusion`
    is given, a one-line summary (`details` appended), and with `--json` the metrics
    as the last line of stdout. Returns the exit status 0."""
    if args.confusion:
        confusion_matrix_png(y_true, np.asarray(probabilities).argmax(1), class_names, args.confusion, title=title)
    print(f"accuracy {metrics['accuracy']:.4f}  n={metrics['n']}  macro-F1 {metrics['macro_f1']:.4f}{details}")
    if args.json:
        print_json_line(metrics)
    return 0


def print_json_line(obj):
    """Print one JSON object as the last line of stdout (for `--json`)."""
    print(json.dumps(obj, default=float), flush=True)
