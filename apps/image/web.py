"""The Image tab of `run.py serve`: draw a digit or upload a picture; the label, and where the
network looked. Deep Dream and style transfer on an uploaded photo.

A picture goes through the model's own preprocessing (`apps.image.preprocess.to_model_input`: dark
ink on light paper inverted, cropped, scaled and centred as the dataset's images were), as
`run.py image predict` does. The explanations are `apps.image.visualize.write_explanations`'
saliency |d logit / d input| and Grad-CAM at the last convolution. Deep Dream and style transfer
are `apps.image.visualize.write_dream` / `write_style`, with few steps by default so that they
answer in tens of seconds on a CPU; the backbone is the ImageNet VGG16 when its package is
installed ("auto"), or the chosen model of the tab ("model").
"""
import types
from pathlib import Path

import numpy as np

from shared.errors import UserError

APP = "image"  # the app name stored in its model files (shared.modelio)
TITLE = "Image"
MODELS = {"MNIST digits": "image_mnist.keras", "Fashion-MNIST clothes": "image_fashion.keras"}
BACKBONES = ("auto", "vgg16", "model")
DREAM_STEPS, STYLE_STEPS, PHOTO_SIDE = 5, 20, 160  # tens of seconds on 2 CPU cores with VGG16


def available_models(models_dir):
    """{choice: path} of the MODELS present in `models_dir`."""
    return {choice: Path(models_dir) / name for choice, name in MODELS.items() if (Path(models_dir) / name).is_file()}


def to_picture(value, what="picture"):
    """A PIL image from what a Gradio image input gives: a file path, an array (RGBA flattened onto
    white, as a drawing's transparent background is paper), or a sketchpad's {"composite": array}."""
    from PIL import Image

    from apps.image.preprocess import load_image
    if isinstance(value, dict):  # gr.Sketchpad: background, layers and their composite
        value = value.get("composite")
    if value is None:
        raise UserError(f"no {what}: draw or upload one")
    if isinstance(value, (str, Path)):
        return load_image(value)
    array = np.asarray(value)
    if array.ndim not in (2, 3) or array.size == 0:
        raise UserError(f"the {what} is not an image (array of shape {array.shape})")
    if array.dtype != np.uint8:
        array = np.clip(array, 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[-1] == 4:
        alpha = array[..., 3:4].astype(np.float32) / 255
        array = (array[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    return Image.fromarray(array)


def model_input(picture, meta, what="picture"):
    """The picture as the model's input (28, 28, 1) float32, preprocessed as the model's dataset;
    UserError when it holds no ink at all."""
    from apps.image.preprocess import to_model_input
    x = to_model_input(picture, meta["preprocessing"])
    if not x.any():
        raise UserError(f"the {what} is blank: draw a digit or a piece of clothing")
    return x.astype(np.float32)


def classify(model, meta, x):
    """{class name: probability} for one model input."""
    names = meta["preprocessing"]["class_names"]
    probabilities = np.asarray(model(x[None], training=False))[0]
    return {name: float(p) for name, p in zip(names, probabilities)}


def explanation_picture(model, meta, x, scale=2):
    """The input, its saliency and its Grad-CAM (`write_explanations`) as one RGB array, enlarged
    `scale` times (the grid is drawn for 28x28 inputs, small on a screen)."""
    from PIL import Image

    from apps.image.visualize import write_explanations
    from shared.serve import figure_picture
    picture = figure_picture(lambda path: write_explanations(model, meta, [x], path.parent,
                                                             kinds=("saliency", "gradcam")))
    height, width = picture.shape[:2]
    return np.asarray(Image.fromarray(picture).resize((width * scale, height * scale), Image.LANCZOS))


def _options(backbone, steps, size=PHOTO_SIDE):
    if backbone not in BACKBONES:
        raise UserError(f"backbone {backbone!r}: choose one of {', '.join(BACKBONES)}")
    return types.SimpleNamespace(backbone=backbone, steps=int(steps), size=int(size), seed=0)


def _run_quietly(write, out):
    """(the picture `write(out)` saves, the line it prints: which backbone, how the loss went)."""
    import contextlib
    import io

    from PIL import Image
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        paths = write(out)
    with Image.open(paths[0]) as image:
        return np.asarray(image.convert("RGB")), printed.getvalue().strip()


def dream(model, meta, photo, backbone="auto", steps=DREAM_STEPS, size=PHOTO_SIDE):
    """(Deep Dream of the photo file `photo` (longer side `size`) as an RGB array, a line on the run)."""
    import tempfile

    from apps.image.visualize import write_dream
    if not photo:
        raise UserError("no photo: upload one for Deep Dream")
    with tempfile.TemporaryDirectory(prefix="beyond-pixels-") as out:
        return _run_quietly(lambda folder: write_dream(_options(backbone, steps, size), model, meta, photo, folder),
                            out)


def style(model, meta, content, style_picture, backbone="auto", steps=STYLE_STEPS, size=PHOTO_SIDE):
    """(The photo file `content` repainted in the style of the picture file `style_picture` as an RGB
    array, a line on the run)."""
    import tempfile

    from apps.image.visualize import write_style
    if not content:
        raise UserError("no photo: upload one to repaint")
    if not style_picture:
        raise UserError("no style picture: upload a painting")
    with tempfile.TemporaryDirectory(prefix="beyond-pixels-") as out:
        return _run_quietly(lambda folder: write_style(_options(backbone, steps, size), model, meta, content,
                                                       style_picture, folder), out)


def panel(models_dir):
    """The Image tab: sketchpad or upload, model choice, label, saliency and Grad-CAM; Deep Dream
    and style transfer on a photo."""
    import gradio as gr

    from shared import examples, serve

    choices = available_models(models_dir)
    if not choices:
        gr.Markdown(serve.missing_models_note(models_dir, list(MODELS.values()), "python run.py image train"),
                    elem_id="image-message")
        return
    with gr.Row():
        with gr.Column():
            with gr.Tabs():
                with gr.Tab("Draw", id="draw", elem_id="image-draw-tab"):
                    sketch = gr.Sketchpad(label="Draw a digit", type="numpy", canvas_size=(280, 280),
                                          brush=gr.Brush(default_size=18, colors=["#000000"], color_mode="fixed"),
                                          layers=False, elem_id="image-sketch")
                    classify_drawing = gr.Button("Classify the drawing", variant="primary", elem_id="image-classify")
                with gr.Tab("Upload", id="upload", elem_id="image-upload-tab"):
                    upload = gr.Image(label="Upload a picture (PNG or JPEG)", type="filepath", sources=["upload"],
                                      elem_id="image-upload")
            model_choice = gr.Radio(list(choices), value=next(iter(choices)), label="Model", elem_id="image-model")
            message = gr.Markdown(elem_id="image-message")
        with gr.Column():
            label = gr.Label(num_top_classes=3, label="Prediction", elem_id="image-label")
            gr.Markdown("What the model saw: its input, the saliency |d logit / d input|, and Grad-CAM at the "
                        "last convolution")
            explained = gr.Image(show_label=False, interactive=False, buttons=[], elem_id="image-explained")
    gr.Markdown("### Deep Dream and style transfer\nOn a photo; a few steps by default (tens of seconds on a CPU).")
    with gr.Row():
        photo = gr.Image(label="Photo", type="filepath", sources=["upload"], value=str(examples.path("photo.png")),
                         elem_id="image-photo")
        painting = gr.Image(label="Style (a painting)", type="filepath", sources=["upload"],
                            value=str(examples.path("painting.png")), elem_id="image-painting")
        result = gr.Image(label="Result", interactive=False, elem_id="image-result")
    with gr.Row():
        backbone = gr.Radio(list(BACKBONES), value="auto", label="Backbone (auto: ImageNet VGG16 if installed, "
                                                                  "else the chosen model)", elem_id="image-backbone")
        steps = gr.Slider(1, 100, value=DREAM_STEPS, step=1, label=f"Steps (Deep Dream: per octave, of 3; style "
                                                                   f"transfer: at least {STYLE_STEPS})",
                          elem_id="image-steps")
        dream_button = gr.Button("Deep Dream", elem_id="image-dream")
        style_button = gr.Button("Style transfer", elem_id="image-style")
    art_message = gr.Markdown(elem_id="image-art-message")

    def loaded(choice):
        if choice not in choices:
            raise UserError(f"model {choice!r}: not among {', '.join(choices)}")
        return serve.cached_model(choices[choice], APP)

    def run(value, choice, what):
        model, meta = loaded(choice)
        x = model_input(to_picture(value, what), meta, what)
        probabilities = classify(model, meta, x)
        best = max(probabilities, key=probabilities.get)
        return probabilities, explanation_picture(model, meta, x), f"The {what}: **{best}**."

    def dreamed(photo_file, choice, backbone, steps):
        model, meta = loaded(choice)
        picture, line = dream(model, meta, photo_file, backbone, steps)
        return picture, f"Deep Dream, {int(steps)} steps per octave: {line}"

    def styled(photo_file, painting_file, choice, backbone, steps):
        model, meta = loaded(choice)
        steps = max(int(steps), STYLE_STEPS)  # fewer barely moves off the photo
        picture, line = style(model, meta, photo_file, painting_file, backbone, steps)
        return picture, f"Style transfer, {steps} steps: {line}"

    outputs = [label, explained, message]
    classify_drawing.click(serve.report_errors(lambda value, choice: run(value, choice, "drawing"), 3),
                           [sketch, model_choice], outputs)
    upload.upload(serve.report_errors(lambda value, choice: run(value, choice, "picture"), 3),
                  [upload, model_choice], outputs)
    dream_button.click(serve.report_errors(dreamed, 2), [photo, model_choice, backbone, steps], [result, art_message])
    style_button.click(serve.report_errors(styled, 2), [photo, painting, model_choice, backbone, steps],
                       [result, art_message])
