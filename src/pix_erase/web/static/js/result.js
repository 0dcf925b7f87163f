// A result over its source: before/after split at the same zoom, Download with a
// sensible name, "keep editing" to continue from the result.
import { api, contentUrl, loadBitmap } from "./api.js";
import { shrink } from "./mask.js";

const $ = (id) => document.getElementById(id);
let bound = false;

export function resultState(editor) {
  return editor.result || null;
}

export async function showResult(editor, imageId, info) {
  bind(editor);
  const image = await api("GET", `/images/${imageId}`);
  const bitmap = await loadBitmap(imageId);
  const source = editor.image;
  const sameSize = image.width === source.width && image.height === source.height;
  editor.result = {
    image,
    bitmap,
    small: await shrink(bitmap, image.width, image.height),
    sameSize,
    split: Number($("split").value) / 100,
  };
  $("split").disabled = !sameSize;
  const link = $("download");
  link.href = `${contentUrl(image.id)}?download=true`;
  link.download = image.filename || `result.${image.format}`;
  link.textContent = `Download ${link.download}`;
  $("result-info").textContent = info || "";
  $("result-bar").hidden = false;
  if (!sameSize) editor.view.setImage(image.width, image.height);
  editor.schedule();
}

export function hideResult(editor) {
  if (editor.result && !editor.result.sameSize && editor.image) {
    editor.view.setImage(editor.image.width, editor.image.height);
  }
  editor.result = null;
  $("result-bar").hidden = true;
  editor.schedule();
}

function bind(editor) {
  if (bound) return;
  bound = true;
  $("split").addEventListener("input", () => {
    if (!editor.result) return;
    editor.result.split = Number($("split").value) / 100;
    editor.schedule();
  });
  $("hide-result").addEventListener("click", () => hideResult(editor));
  $("keep-editing").addEventListener("click", () => {
    if (editor.result) editor.open(editor.result.image);
  });
}
