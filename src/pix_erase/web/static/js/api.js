// The public /api/v1 API, nothing else: JSON requests, the error envelope, uploads with
// progress (XMLHttpRequest, whose upload events fetch lacks) and task polling.

export class ApiError extends Error {
  constructor(status, body) {
    const envelope = body && typeof body === "object" ? body : {};
    super(envelope.message || `The server answered ${status}.`);
    this.status = status;
    this.code = envelope.code || "http_error";
    this.details = envelope.details;
  }
}

async function parse(response) {
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  const body = type.includes("json") ? await response.json() : null;
  if (!response.ok) throw new ApiError(response.status, body);
  return body;
}

export async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return parse(await fetch(`/api/v1${path}`, init));
}

export const contentUrl = (id) => `/api/v1/images/${id}/content`;
// A thumbnail: a render fitted into size x size (never enlarged), cached by the browser.
export const previewUrl = (id, size = 256) =>
  `/api/v1/images/${id}/render?w=${size}&h=${size}&format=webp&q=80`;

/** Upload one file (or Blob with a name); `onProgress(fraction)` while bytes go up. */
export function upload(file, name, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/images");
    xhr.responseType = "json";
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener("load", () => {
      if (xhr.status === 201) resolve(xhr.response);
      else reject(new ApiError(xhr.status, xhr.response));
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, { message: "The upload failed: no connection to the server." })));
    const form = new FormData();
    form.append("file", file, name);
    xhr.send(form);
  });
}


/** Poll a task until it ends; resolves with its result or rejects with its error. */
export async function waitTask(taskId, onProgress) {
  for (;;) {
    // Answered as soon as the task ends, else after a second with its progress.
    const task = await api("GET", `/tasks/${taskId}?wait=1`);
    if (onProgress) onProgress(task.progress ?? 0, task.status);
    if (task.status === "succeeded") return task.result;
    if (task.status === "failed") {
      throw new ApiError(422, task.error || { message: "The task failed." });
    }
  }
}

/** Submit one operation on an image and wait for it. */
export async function runOperation(imageId, operation, onProgress) {
  const accepted = await api("POST", `/images/${imageId}/operations`, { operation });
  return waitTask(accepted.task_id, onProgress);
}

/** Fetch an image's bytes as an ImageBitmap (the editor needs every pixel). */
export async function loadBitmap(id) {
  const response = await fetch(contentUrl(id));
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return createImageBitmap(await response.blob());
}
