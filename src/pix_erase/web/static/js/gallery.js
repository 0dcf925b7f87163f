// Upload (drag and drop or chooser, a progress bar per file), the gallery of one's own
// pictures (thumbnails from /render, newest first, paged), delete, batch watermark.
import { api, previewUrl, upload, waitTask } from "./api.js";
import { fail, say, withProgress } from "./status.js";

const PAGE = 24;
const names = new Map(); // image id -> file name, for "from …" captions

export function displayName(image) {
  return image.filename || `${image.operation || "picture"} ${image.id.slice(0, 8)}.${image.format}`;
}

export class Gallery {
  constructor({ onOpen }) {
    this.onOpen = onOpen;
    this.offset = 0;
    this.items = [];
    this.selected = new Set();
    this.tiles = document.getElementById("tiles");
    this.setUpUpload();
    document.getElementById("page-prev").addEventListener("click", () => this.go(this.offset - PAGE));
    document.getElementById("page-next").addEventListener("click", () => this.go(this.offset + PAGE));
    document.getElementById("batch-remove").addEventListener("click", () => this.removeBatch());
  }

  setUpUpload() {
    const drop = document.getElementById("drop");
    const input = document.getElementById("file-input");
    input.addEventListener("change", () => {
      this.uploadAll([...input.files]);
      input.value = "";
    });
    drop.addEventListener("dragover", (event) => {
      event.preventDefault();
      drop.classList.add("over");
    });
    drop.addEventListener("dragleave", () => drop.classList.remove("over"));
    drop.addEventListener("drop", (event) => {
      event.preventDefault();
      drop.classList.remove("over");
      this.uploadAll([...event.dataTransfer.files]);
    });
  }

  async uploadAll(files) {
    if (!files.length) return;
    const list = document.getElementById("uploads");
    const jobs = files.map(async (file) => {
      const li = document.createElement("li");
      const label = document.createElement("span");
      label.textContent = file.name;
      const state = document.createElement("span");
      state.textContent = "uploading";
      const bar = document.createElement("progress");
      bar.max = 1;
      bar.value = 0;
      bar.setAttribute("aria-label", `Uploading ${file.name}`);
      li.append(label, state, bar);
      list.prepend(li);
      try {
        await upload(file, file.name, (fraction) => { bar.value = fraction; });
        bar.value = 1;
        state.textContent = "uploaded";
        return true;
      } catch (error) {
        bar.remove();
        state.textContent = "refused";
        const message = document.createElement("p");
        message.className = "error";
        message.textContent = `${file.name}: ${error.message}`;
        li.append(message);
        return false;
      }
    });
    const done = await Promise.all(jobs);
    const ok = done.filter(Boolean).length;
    if (ok < files.length) fail(`${files.length - ok} of ${files.length} files were refused.`);
    else say(`${ok} ${ok === 1 ? "picture" : "pictures"} uploaded.`);
    await this.go(0);
  }

  async go(offset) {
    this.offset = Math.max(0, offset);
    try {
      const page = await api("GET", `/images?limit=${PAGE}&offset=${this.offset}`);
      this.items = page.items;
      for (const image of page.items) names.set(image.id, displayName(image));
      await this.render(page.total);
    } catch (error) {
      fail(error);
    }
  }

  async parentName(id) {
    if (!names.has(id)) {
      try {
        names.set(id, displayName(await api("GET", `/images/${id}`)));
      } catch {
        names.set(id, "a deleted picture");
      }
    }
    return names.get(id);
  }

  async render(total) {
    const tiles = await Promise.all(this.items.map((image) => this.tile(image)));
    this.tiles.replaceChildren(...tiles);
    const last = Math.min(this.offset + PAGE, total);
    document.getElementById("page-info").textContent =
      total ? `${this.offset + 1}–${last} of ${total}` : "No pictures yet: upload one.";
    document.getElementById("page-prev").disabled = this.offset === 0;
    document.getElementById("page-next").disabled = last >= total;
    this.updateBatch();
  }

  async tile(image) {
    const name = displayName(image);
    const li = document.createElement("li");
    li.className = "tile";
    const img = document.createElement("img");
    img.src = previewUrl(image.id);
    img.alt = name;
    img.loading = "lazy";
    img.decoding = "async";
    const caption = document.createElement("span");
    caption.className = "name";
    caption.textContent = `${name} (${image.width}×${image.height})`;
    li.append(img, caption);
    if (image.parent_id) {
      const from = document.createElement("span");
      from.className = "from";
      from.textContent = `from ${await this.parentName(image.parent_id)}`;
      li.append(from);
    }
    const row = document.createElement("div");
    row.className = "row";
    const pick = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = this.selected.has(image.id);
    box.setAttribute("aria-label", `Select ${name}`);
    box.addEventListener("change", () => {
      if (box.checked) this.selected.add(image.id);
      else this.selected.delete(image.id);
      this.updateBatch();
    });
    pick.append(box, "Select");
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = "Open";
    open.setAttribute("aria-label", `Open ${name}`);
    open.addEventListener("click", () => this.onOpen(image));
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete ${name}`);
    remove.addEventListener("click", () => this.remove(image, name));
    row.append(pick, open, remove);
    li.append(row);
    return li;
  }

  async remove(image, name) {
    if (!window.confirm(`Delete ${name}? This cannot be undone.`)) return;
    try {
      await api("DELETE", `/images/${image.id}`);
      this.selected.delete(image.id);
      say(`${name} deleted.`);
      await this.go(this.offset);
    } catch (error) {
      fail(error);
    }
  }

  updateBatch() {
    const button = document.getElementById("batch-remove");
    button.disabled = this.selected.size < 2;
    button.textContent = `Remove shared watermark from selected (${this.selected.size})`;
  }

  async removeBatch() {
    const ids = [...this.selected];
    const out = document.getElementById("batch-result");
    out.textContent = "";
    try {
      const result = await withProgress(document.getElementById("batch-progress"), async (update) => {
        const accepted = await api("POST", "/watermarks/remove-batch", { image_ids: ids });
        return waitTask(accepted.task_id, update);
      });
      this.selected.clear();
      const count = result.items.length;
      out.textContent = `Watermark removed from ${count} pictures; the results are first in the gallery.`;
      say(out.textContent);
      await this.go(0);
    } catch (error) {
      fail(error);
    }
  }

  /** Pictures on the current page, for the compare form. */
  choices() {
    return this.items.map((image) => ({ id: image.id, name: displayName(image), image }));
  }
}
