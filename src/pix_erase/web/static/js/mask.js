// The mask: a list of drawing operations in the picture's own pixels (brush, eraser,
// rectangle, a mask image, clear), with undo and redo. It is drawn on a screen-sized
// layer for display and rendered at full resolution only when sent.

const COLOUR = "rgb(255, 32, 32)";
const MAX_SHAPES = 1000;
const MAX_POINTS = 10000;

export class Mask {
  constructor(onChange) {
    this.onChange = onChange;
    this.reset();
  }

  reset() {
    this.ops = [];
    this.undone = [];
  }

  push(op) {
    this.ops.push(op);
    this.undone = [];
    this.onChange();
  }

  undo() {
    if (!this.ops.length) return;
    this.undone.push(this.ops.pop());
    this.onChange();
  }

  redo() {
    if (!this.undone.length) return;
    this.ops.push(this.undone.pop());
    this.onChange();
  }

  clear() {
    if (this.active().length) this.push({ type: "clear" });
  }

  /** Operations since the last clear: what the mask is made of now. */
  active() {
    let start = 0;
    this.ops.forEach((op, index) => {
      if (op.type === "clear") start = index + 1;
    });
    return this.ops.slice(start);
  }

  isEmpty() {
    return !this.active().some((op) => op.type !== "eraser");
  }

  lastRect() {
    const rects = this.active().filter((op) => op.type === "rect");
    return rects.length ? rects[rects.length - 1] : null;
  }

  /** Draw every active operation; `ctx` maps picture pixels to its canvas. */
  draw(ctx, { scale = 1, preferSmall = false } = {}) {
    for (const op of this.active()) drawOp(ctx, op, { scale, preferSmall });
  }

  /** `{strokes}` or `{rects}` when that says it all; null when a PNG mask is needed. */
  geometry(width, height) {
    const ops = this.active();
    if (ops.length > MAX_SHAPES) return null;
    if (ops.every((op) => op.type === "brush" && op.points.length <= MAX_POINTS)) {
      return { strokes: ops.map((op) => ({ points: op.points, radius: op.radius })) };
    }
    if (ops.every((op) => op.type === "rect")) {
      const rects = ops.map((op) => clampRect(op, width, height)).filter(Boolean);
      return rects.length ? { rects } : null;
    }
    return null;
  }

  /** The mask at the picture's full resolution as a PNG: white = erase, black = keep. */
  async toPng(width, height) {
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext("2d");
    this.draw(ctx);
    ctx.globalCompositeOperation = "source-in";
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, width, height);
    ctx.globalCompositeOperation = "destination-over";
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, width, height);
    return canvas.convertToBlob({ type: "image/png" });
  }
}

export function normalRect(op) {
  const x = Math.min(op.x0, op.x1);
  const y = Math.min(op.y0, op.y1);
  return { x, y, w: Math.abs(op.x1 - op.x0), h: Math.abs(op.y1 - op.y0) };
}

/** `[x, y, w, h]` in whole pixels inside the picture, or null when nothing is left. */
export function clampRect(op, width, height) {
  const r = normalRect(op);
  const x0 = Math.max(0, Math.floor(r.x));
  const y0 = Math.max(0, Math.floor(r.y));
  const x1 = Math.min(width, Math.ceil(r.x + r.w));
  const y1 = Math.min(height, Math.ceil(r.y + r.h));
  return x1 > x0 && y1 > y0 ? [x0, y0, x1 - x0, y1 - y0] : null;
}

export function drawOp(ctx, op, { preferSmall = false } = {}) {
  ctx.save();
  ctx.globalCompositeOperation = op.type === "eraser" ? "destination-out" : "source-over";
  ctx.fillStyle = COLOUR;
  ctx.strokeStyle = COLOUR;
  if (op.type === "brush" || op.type === "eraser") {
    strokePath(ctx, op.points, op.radius);
  } else if (op.type === "rect") {
    const r = normalRect(op);
    ctx.fillRect(r.x, r.y, r.w, r.h);
  } else if (op.type === "image") {
    const source = preferSmall && op.small ? op.small : op.canvas;
    ctx.drawImage(source, 0, 0, op.width, op.height);
  }
  ctx.restore();
}

export function strokePath(ctx, points, radius) {
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.lineWidth = radius * 2;
  ctx.beginPath();
  const [x0, y0] = points[0];
  if (points.length === 1) {
    ctx.arc(x0, y0, radius, 0, Math.PI * 2);
    ctx.fill();
    return;
  }
  ctx.moveTo(x0, y0);
  for (const [x, y] of points.slice(1)) ctx.lineTo(x, y);
  ctx.stroke();
}

/** A mask image (non-black = erase) as a mask operation: red where it erases. */
export async function imageOp(bitmap) {
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  const data = ctx.getImageData(0, 0, width, height);
  const px = data.data;
  for (let i = 0; i < px.length; i += 4) {
    const on = px[i] | px[i + 1] | px[i + 2];
    px[i] = 255;
    px[i + 1] = 32;
    px[i + 2] = 32;
    px[i + 3] = on ? 255 : 0;
  }
  ctx.putImageData(data, 0, 0);
  return { type: "image", canvas, small: await shrink(canvas, width, height), width, height };
}

const DISPLAY_SIDE = 2048;

/** A copy at most DISPLAY_SIDE wide or high, drawn when zoomed out (cheap to scale). */
export async function shrink(source, width, height) {
  const factor = DISPLAY_SIDE / Math.max(width, height);
  if (factor >= 1) return null;
  return createImageBitmap(source, {
    resizeWidth: Math.max(1, Math.round(width * factor)),
    resizeHeight: Math.max(1, Math.round(height * factor)),
    resizeQuality: "medium",
  });
}

export { DISPLAY_SIDE };
