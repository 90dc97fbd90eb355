// The HTTP API, signed in by the session cookie. Writes carry the CSRF token the server
// gave this page (in memory only). Errors become ApiError with the server's code.

let csrfToken = null;

export class ApiError extends Error {
  constructor(status, body) {
    super(body.detail || body.code || `HTTP ${status}`);
    this.status = status;
    this.code = body.code || (status === 0 ? "network" : "generic");
    this.detail = body.detail;
    this.retry_after_seconds = body.retry_after_seconds;
    this.errors = body.errors; // each problem, for a refused CSV import or list of people
  }
}

export function setCsrfToken(token) {
  csrfToken = token;
}

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
  let response;
  try {
    response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  } catch (error) {
    throw new ApiError(0, { code: "network" });
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (error) {
    data = null;
  }
  if (!response.ok) throw new ApiError(response.status, data && typeof data === "object" ? data : {});
  return data;
}

export async function fetchText(path) {
  const response = await fetch(path, { credentials: "same-origin" });
  if (!response.ok) throw new ApiError(response.status, {});
  return response.text();
}
