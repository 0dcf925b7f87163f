// Zoom and pan of the editor's stage: where the picture sits on screen.
// screen = image * scale + offset, in CSS pixels of the stage.

const MIN_SCALE = 0.01;
const MAX_SCALE = 32;

export class View {
  constructor(stage, onChange) {
    this.stage = stage;
    this.onChange = onChange;
    this.scale = 1;
    this.x = 0;
    this.y = 0;
    this.width = 1;
    this.height = 1;
  }

  get size() {
    return { w: this.stage.clientWidth, h: this.stage.clientHeight };
  }

  setImage(width, height) {
    this.width = width;
    this.height = height;
    this.fit();
  }

  /** The whole picture, centred, as large as the stage allows. */
  fit() {
    const { w, h } = this.size;
    this.scale = Math.min(w / this.width, h / this.height);
    this.x = (w - this.width * this.scale) / 2;
    this.y = (h - this.height * this.scale) / 2;
    this.onChange();
  }

  /** Stage coordinates (CSS px) of a pointer event. */
  local(event) {
    const box = this.stage.getBoundingClientRect();
    return [event.clientX - box.left, event.clientY - box.top];
  }

  toImage(sx, sy) {
    return [(sx - this.x) / this.scale, (sy - this.y) / this.scale];
  }

  zoomAt(factor, sx, sy) {
    const scale = Math.min(MAX_SCALE, Math.max(MIN_SCALE, this.scale * factor));
    const [ix, iy] = this.toImage(sx, sy);
    this.scale = scale;
    this.x = sx - ix * scale;
    this.y = sy - iy * scale;
    this.onChange();
  }

  zoomCentre(factor) {
    const { w, h } = this.size;
    this.zoomAt(factor, w / 2, h / 2);
  }

  panBy(dx, dy) {
    this.x += dx;
    this.y += dy;
    this.onChange();
  }

  /** Set `ctx` so that drawing in image pixels lands on the screen-sized canvas. */
  apply(ctx) {
    const dpr = window.devicePixelRatio || 1;
    ctx.setTransform(dpr * this.scale, 0, 0, dpr * this.scale, dpr * this.x, dpr * this.y);
  }
}
