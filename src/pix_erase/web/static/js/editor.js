// The editor: the picture on a canvas (fitted, zoom and pan), a mask painted on a
// screen-sized layer above it, and the operations. Geometry is kept in the picture's
// own pixels, so what is sent is full resolution whatever the zoom.
import { loadBitmap, runOperation, upload } from "./api.js";
import { DISPLAY_SIDE, Mask, clampRect, drawOp, imageOp, shrink, strokePath } from "./mask.js";
import { showResult, hideResult, resultState } from "./result.js";
import { clearMessages, fail, say, withProgress } from "./status.js";
import { View } from "./view.js";

const $ = (id) => document.getElementById(id);

export class Editor {
  constructor({ onChanged, choices }) {
    this.onChanged = onChanged; // the gallery reloads when a result is made
    this.choices = choices;
    this.image = null;
    this.bitmap = null;
    this.small = null;
    this.tool = "brush";
    this.pointers = new Map();
    this.drawing = null;
    this.stage = $("stage");
    this.picture = $("picture-canvas");
    this.overlay = $("mask-canvas");
    this.view = new View(this.stage, () => this.schedule());
    this.mask = new Mask(() => this.schedule());
    new ResizeObserver(() => this.resize()).observe(this.stage);
    this.bindTools();
    this.bindPointer();
    this.bindKeys();
    this.bindOperations();
  }

  async open(image) {
    clearMessages();
    say(`Opening ${image.filename || "picture"}…`);
    hideResult(this);
    this.mask.reset();
    this.image = image;
    $("editor-title").textContent = `Editing ${image.filename || "picture"}`;
    this.bitmap = await loadBitmap(image.id);
    this.small = await shrink(this.bitmap, image.width, image.height);
    this.resize();
    this.view.setImage(image.width, image.height);
    this.fillCompareChoices();
    say(`${image.filename || "Picture"} is open (${image.width}×${image.height}).`);
  }

  fillCompareChoices() {
    const select = document.querySelector("#compare-form select");
    const options = this.choices().filter((choice) => choice.id !== this.image.id);
    select.replaceChildren(...options.map((choice) => new Option(choice.name, choice.id)));
  }

  // ---- drawing -------------------------------------------------------------------

  resize() {
    const dpr = window.devicePixelRatio || 1;
    for (const canvas of [this.picture, this.overlay]) {
      canvas.width = Math.max(1, Math.round(this.stage.clientWidth * dpr));
      canvas.height = Math.max(1, Math.round(this.stage.clientHeight * dpr));
    }
    this.schedule();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = null;
      this.render();
    });
  }

  /** The bitmap to draw at the current zoom: the small copy whenever it suffices. */
  pick(full, small) {
    return small && this.view.scale * Math.max(full.width, full.height) <= DISPLAY_SIDE ? small : full;
  }

  render() {
    if (!this.bitmap) return;
    const ctx = this.picture.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.picture.width, this.picture.height);
    ctx.imageSmoothingQuality = "high";
    const { width, height } = this.image;
    const result = resultState(this);
    const draw = (bitmap, small, w, h) => {
      this.view.apply(ctx);
      ctx.drawImage(this.pick(bitmap, small), 0, 0, w, h);
    };
    if (result && result.sameSize) {
      // Before on the left of the split, after on the right, at the same zoom.
      const split = Math.round(this.picture.width * result.split);
      ctx.save();
      ctx.beginPath();
      ctx.rect(0, 0, split, this.picture.height);
      ctx.clip();
      draw(this.bitmap, this.small, width, height);
      ctx.restore();
      ctx.save();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.beginPath();
      ctx.rect(split, 0, this.picture.width - split, this.picture.height);
      ctx.clip();
      draw(result.bitmap, result.small, width, height);
      ctx.restore();
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.fillStyle = "#fff";
      ctx.fillRect(split - 1, 0, 2, this.picture.height);
    } else if (result) {
      draw(result.bitmap, result.small, result.image.width, result.image.height);
    } else {
      draw(this.bitmap, this.small, width, height);
    }
    this.renderMask(result && !result.sameSize);
    $("zoom-level").textContent = `${Math.round(this.view.scale * 100)}%`;
  }

  renderMask(hidden) {
    const ctx = this.overlay.getContext("2d");
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.overlay.width, this.overlay.height);
    if (hidden) return;
    this.view.apply(ctx);
    const preferSmall = this.view.scale * Math.max(this.image.width, this.image.height) <= DISPLAY_SIDE;
    this.mask.draw(ctx, { preferSmall });
    if (this.drawing) drawOp(ctx, this.drawing);
  }

  // ---- tools and input ---------------------------------------------------------------

  bindTools() {
    for (const button of document.querySelectorAll("[data-tool]")) {
      button.addEventListener("click", () => this.setTool(button.dataset.tool));
    }
    $("undo").addEventListener("click", () => this.mask.undo());
    $("redo").addEventListener("click", () => this.mask.redo());
    $("clear-mask").addEventListener("click", () => this.mask.clear());
    $("zoom-in").addEventListener("click", () => this.view.zoomCentre(1.25));
    $("zoom-out").addEventListener("click", () => this.view.zoomCentre(0.8));
    $("zoom-fit").addEventListener("click", () => this.view.fit());
  }

  setTool(tool) {
    this.tool = tool;
    for (const button of document.querySelectorAll("[data-tool]")) {
      button.setAttribute("aria-pressed", String(button.dataset.tool === tool));
    }
    this.overlay.classList.toggle("panning", tool === "pan");
  }

  /** Brush size is in screen pixels (diameter); the stroke keeps it in picture pixels. */
  radius() {
    return Number($("brush-size").value) / 2 / this.view.scale;
  }

  bindPointer() {
    const el = this.overlay;
    el.addEventListener("pointerdown", (event) => {
      if (!this.image) return;
      el.setPointerCapture(event.pointerId);
      this.pointers.set(event.pointerId, this.view.local(event));
      if (this.pointers.size === 2) {
        this.drawing = null; // a second finger: pinch, not paint
        this.pinch = this.pinchState();
        return;
      }
      const panning = this.tool === "pan" || event.button === 1 || this.spaceDown;
      if (panning) {
        this.panning = true;
        return;
      }
      const [x, y] = this.view.toImage(...this.view.local(event));
      if (this.tool === "rect") this.drawing = { type: "rect", x0: x, y0: y, x1: x, y1: y };
      else this.drawing = { type: this.tool, points: [[x, y]], radius: this.radius() };
      this.schedule();
    });
    el.addEventListener("pointermove", (event) => {
      if (!this.pointers.has(event.pointerId)) return;
      const [sx, sy] = this.view.local(event);
      const [px, py] = this.pointers.get(event.pointerId);
      this.pointers.set(event.pointerId, [sx, sy]);
      if (this.pointers.size === 2 && this.pinch) {
        const now = this.pinchState();
        this.view.panBy(now.cx - this.pinch.cx, now.cy - this.pinch.cy);
        this.view.zoomAt(now.d / this.pinch.d, now.cx, now.cy);
        this.pinch = now;
      } else if (this.panning) {
        this.view.panBy(sx - px, sy - py);
      } else if (this.drawing) {
        this.extend(...this.view.toImage(sx, sy));
      }
    });
    const end = (event) => {
      if (!this.pointers.delete(event.pointerId)) return;
      if (this.pointers.size < 2) this.pinch = null;
      if (this.pointers.size === 0) {
        this.panning = false;
        if (this.drawing && event.type === "pointerup") this.commit();
        this.drawing = null;
        this.schedule();
      }
    };
    el.addEventListener("pointerup", end);
    el.addEventListener("pointercancel", end);
    el.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const [sx, sy] = this.view.local(event);
        this.view.zoomAt(Math.exp(-event.deltaY * 0.0015), sx, sy);
      },
      { passive: false },
    );
  }

  pinchState() {
    const [[x1, y1], [x2, y2]] = [...this.pointers.values()];
    return { cx: (x1 + x2) / 2, cy: (y1 + y2) / 2, d: Math.max(1, Math.hypot(x2 - x1, y2 - y1)) };
  }

  extend(x, y) {
    const op = this.drawing;
    if (op.type === "rect") {
      op.x1 = x;
      op.y1 = y;
      this.schedule();
      return;
    }
    const [lx, ly] = op.points[op.points.length - 1];
    if (Math.hypot(x - lx, y - ly) < Math.max(0.5, op.radius / 4)) return;
    op.points.push([x, y]);
    // Only the new segment is drawn now: a long stroke stays smooth.
    const ctx = this.overlay.getContext("2d");
    this.view.apply(ctx);
    ctx.save();
    ctx.globalCompositeOperation = op.type === "eraser" ? "destination-out" : "source-over";
    ctx.strokeStyle = "rgb(255, 32, 32)";
    ctx.fillStyle = "rgb(255, 32, 32)";
    strokePath(ctx, [[lx, ly], [x, y]], op.radius);
    ctx.restore();
  }

  commit() {
    const op = this.drawing;
    this.drawing = null;
    if (op.type === "rect" && (Math.abs(op.x1 - op.x0) < 1 || Math.abs(op.y1 - op.y0) < 1)) return;
    this.mask.push(op);
  }

  bindKeys() {
    document.addEventListener("keydown", (event) => {
      if ($("editor-view").hidden || !this.image) return;
      const typing = event.target.closest("input:not([type=range]):not([type=checkbox]), select, textarea");
      const key = event.key.toLowerCase();
      if ((event.ctrlKey || event.metaKey) && !typing && (key === "z" || key === "y")) {
        event.preventDefault();
        if (event.shiftKey || key === "y") this.mask.redo();
        else this.mask.undo();
      }
      if (event.key === " " && event.target === this.overlay) {
        this.spaceDown = true;
        event.preventDefault();
      }
    });
    document.addEventListener("keyup", (event) => {
      if (event.key === " ") this.spaceDown = false;
    });
    this.overlay.addEventListener("keydown", (event) => {
      const step = 40;
      const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
      if (moves[event.key]) this.view.panBy(...moves[event.key]);
      else if (event.key === "+" || event.key === "=") this.view.zoomCentre(1.25);
      else if (event.key === "-") this.view.zoomCentre(0.8);
      else if (event.key === "0") this.view.fit();
      else return;
      event.preventDefault();
    });
  }

  // ---- operations ----------------------------------------------------------------------

  bindOperations() {
    $("erase").addEventListener("click", () => this.run("Erase", () => this.eraseOperation()));
    $("find-watermark").addEventListener("click", () => this.findWatermark());
    $("remove-background").addEventListener("click", () =>
      this.run("Remove background", async () => {
        const op = { type: "remove_background" };
        const rect = this.mask.lastRect();
        const clamped = rect && clampRect(rect, this.image.width, this.image.height);
        if (clamped) op.rect = clamped;
        return op;
      }),
    );
    const form = (id, build) =>
      $(id).addEventListener("submit", (event) => {
        event.preventDefault();
        const data = Object.fromEntries(new FormData(event.target).entries());
        this.run(event.target.querySelector("h3").textContent, async () => build(data));
      });
    form("rotate-form", (d) => ({ type: "rotate", angle: Number(d.angle) }));
    form("grayscale-form", () => ({ type: "grayscale" }));
    form("resize-form", (d) => {
      const op = { type: "resize" };
      if (d.scale) op.scale = Number(d.scale);
      else {
        if (d.width) op.width = Number(d.width);
        if (d.height) op.height = Number(d.height);
      }
      return op;
    });
    form("convert-form", (d) => ({ type: "convert", format: d.format, quality: Number(d.quality) }));
    form("compare-form", (d) => ({ type: "compare", other_image_id: d.other }));
  }

  async eraseOperation() {
    const method = $("method").value;
    if (this.mask.isEmpty()) throw new Error("Paint over what to erase first.");
    const { width, height } = this.image;
    const geometry = this.mask.geometry(width, height);
    if (geometry) return { type: "erase", method, ...geometry };
    say("Preparing the mask…");
    const png = await this.mask.toPng(width, height);
    const stem = (this.image.filename || "picture").replace(/\.[^.]+$/, "");
    const mask = await upload(png, `${stem}.mask.png`);
    return { type: "erase", method, mask_image_id: mask.id };
  }

  async findWatermark() {
    const result = await this.run("Find watermark", async () => ({ type: "remove_watermark" }));
    if (!result || !result.mask_image_id) return;
    const op = await imageOp(await loadBitmap(result.mask_image_id));
    this.mask.clear();
    this.mask.push(op);
    say("Watermark found: its mask is shown in red. Paint or erase to correct it, then press Erase.");
  }

  /** Run one operation with the progress bar; show its result over the source. */
  async run(label, build) {
    const buttons = document.querySelectorAll("#editor-view .actions button, #editor-view form button");
    buttons.forEach((b) => { b.disabled = true; });
    clearMessages();
    try {
      const operation = await build();
      const source = this.image;
      const result = await withProgress($("task-progress"), (update) => {
        say(`${label}: working…`);
        return runOperation(source.id, operation, update);
      });
      await showResult(this, result.image_id, describe(label, result));
      say(`${label}: done.`);
      await this.onChanged();
      this.fillCompareChoices(); // the new result can be compared with at once
      return result;
    } catch (error) {
      fail(error);
      return null;
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
    }
  }
}

function describe(label, result) {
  if (result.psnr !== undefined) {
    const psnr = result.psnr === null || !Number.isFinite(result.psnr) ? "∞" : result.psnr.toFixed(2);
    return `PSNR ${psnr} dB, SSIM ${Number(result.ssim).toFixed(4)}, pHash distance ${result.phash_distance}; heat-map shown.`;
  }
  return `${label} result.`;
}
