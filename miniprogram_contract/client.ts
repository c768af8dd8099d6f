// A small wx.request client for the Linli API (hand-written; types.ts and errors.ts are generated).
//
//   const api = new LinliClient({ baseUrl: "https://linli.example.cn" });
//   await api.loginWithWechat();                                   // wx.login → POST /api/v1/auth/wechat-login
//   const me = await api.request("GET /api/v1/me");                // typed: Me
//   const page = await api.request("GET /api/v1/areas", { query: { q: "控江" } });
//   await api.request("POST /api/v1/me/household-requests", { body: { room_id, relation: "owner" } });
//
// What it does for every call: `Authorization: Bearer <access token>`; `Accept-Language`; on a 401 with
// code `token_expired` one refresh through POST /api/v1/auth/refresh (concurrent 401s share it) and one
// retry; an `Idempotency-Key` (uuid v4) for operations that honour it, the same key on every retry of
// the same call; failures reject with `ApiError` {code, message, errors, status}. See README.md.

import { ERRORS, isErrorCode, type ApiErrorBody, type ErrorCode } from "./errors";
import { OPERATIONS, type OperationKey, type OperationMeta, type RequestOf, type ResponseOf, type Token } from "./types";

// ---- the slice of `wx` this client uses (wx.d.ts declares the global with this type) -------------

/** The methods `wx.request` documents. PATCH is not among them: it goes as POST + X-HTTP-Method-Override. */
export type WxRequestMethod = "OPTIONS" | "GET" | "HEAD" | "POST" | "PUT" | "DELETE" | "TRACE" | "CONNECT";

export interface WxError {
  errMsg: string;
  errno?: number;
}

export interface WxRequestOption {
  url: string;
  method?: WxRequestMethod;
  data?: string | Record<string, unknown> | ArrayBuffer;
  header?: Record<string, string>;
  timeout?: number;
  dataType?: "json" | "其他";
  responseType?: "text" | "arraybuffer";
  success?: (result: { data: unknown; statusCode: number; header: Record<string, string> }) => void;
  fail?: (error: WxError) => void;
}

export interface WxUploadFileOption {
  url: string;
  /** a local file path, e.g. from `wx.chooseMedia` */
  filePath: string;
  /** the multipart field name of the file */
  name: string;
  header?: Record<string, string>;
  formData?: Record<string, string>;
  timeout?: number;
  success?: (result: { data: string; statusCode: number }) => void;
  fail?: (error: WxError) => void;
}

export interface WxLoginOption {
  timeout?: number;
  success?: (result: { code: string; errMsg: string }) => void;
  fail?: (error: WxError) => void;
}

export interface WxApi {
  request(option: WxRequestOption): unknown;
  uploadFile(option: WxUploadFileOption): unknown;
  login(option: WxLoginOption): void;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, data: unknown): void;
  removeStorageSync(key: string): void;
}

function globalWx(): WxApi | undefined {
  // With the official typings `wx` is WechatMiniprogram.Wx, a superset of WxApi.
  return typeof wx === "undefined" ? undefined : (wx as unknown as WxApi);
}

// ---- errors -------------------------------------------------------------------------------------

/** Codes the client itself produces (no usable response from the server). */
export type ClientErrorCode = "network_error" | "bad_response" | "not_logged_in" | "wx_login_failed";

const CLIENT_MESSAGES: { readonly [C in ClientErrorCode]: { readonly zh: string; readonly en: string } } = {
  network_error: { zh: "网络连接失败，请检查网络后重试", en: "The network request failed; check the connection and retry" },
  bad_response: { zh: "服务器响应无法识别，请稍后再试", en: "The server sent a response the app cannot read" },
  not_logged_in: { zh: "请先登录", en: "Please log in first" },
  wx_login_failed: { zh: "微信登录失败，请重试", en: "WeChat login failed; please retry" },
};

/** Codes after which the person has to log in again (wx.login → wechat-login). */
const LOGIN_AGAIN: ReadonlySet<string> = new Set([
  "unauthorized",
  "token_invalid",
  "token_expired",
  "refresh_token_invalid",
  "refresh_token_reused",
  "account_disabled",
  "not_logged_in",
]);

export class ApiError extends Error implements ApiErrorBody {
  /** the server's stable code (see errors.ts), or a ClientErrorCode */
  readonly code: ErrorCode | ClientErrorCode | (string & {});
  /** problems per field; empty when none */
  readonly errors: Record<string, string[]>;
  /** HTTP status; 0 when no response arrived */
  readonly status: number;

  constructor(code: ApiError["code"], message: string, status: number, errors: Record<string, string[]> = {}) {
    super(message);
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.errors = errors;
  }

  /** true when the person must log in again */
  get needsLogin(): boolean {
    return LOGIN_AGAIN.has(this.code);
  }

  /** true when nothing reached the server or nothing came back; safe to offer "retry" */
  get isNetworkError(): boolean {
    return this.code === "network_error";
  }
}

function isErrorBody(data: unknown): data is ApiErrorBody {
  if (typeof data !== "object" || data === null) return false;
  const body = data as Record<string, unknown>;
  return typeof body.code === "string" && typeof body.message === "string";
}

// ---- tokens -------------------------------------------------------------------------------------

/** Where the tokens live; the default keeps them in wx storage. Inject another for tests or plugins. */
export interface TokenStorage {
  get(key: string): string | null;
  set(key: string, value: string): void;
  remove(key: string): void;
}

export function wxTokenStorage(api: WxApi): TokenStorage {
  return {
    get: (key) => {
      const value = api.getStorageSync(key);
      return typeof value === "string" && value !== "" ? value : null;
    },
    set: (key, value) => api.setStorageSync(key, value),
    remove: (key) => api.removeStorageSync(key),
  };
}

export const ACCESS_TOKEN_KEY = "linli.access_token";
export const REFRESH_TOKEN_KEY = "linli.refresh_token";

// ---- uuid v4 for Idempotency-Key ----------------------------------------------------------------

/** A random (version 4) UUID. `random` must return numbers in [0, 1). */
export function uuid4(random: () => number = Math.random): string {
  const bytes: number[] = [];
  for (let i = 0; i < 16; i++) bytes.push(Math.floor(random() * 256) & 0xff);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = bytes.map((b) => (b + 0x100).toString(16).slice(1)).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// ---- the client ---------------------------------------------------------------------------------

export interface ClientOptions {
  /** scheme and host of the API, e.g. "https://linli.example.cn" (paths already start with /api/v1) */
  baseUrl: string;
  /** token storage; default: wx storage */
  storage?: TokenStorage;
  /** Accept-Language, e.g. "zh-CN" (default) or "en"; a function is asked on every request */
  language?: string | (() => string);
  /** per-request timeout in ms (default 15000) */
  timeoutMs?: number;
  /** retries after a network failure, for GETs and Idempotency-Key requests only (default 1) */
  networkRetries?: number;
  /** Idempotency-Key generator (default uuid4) */
  uuid?: () => string;
  /** called when the session is over (refresh failed with 401): show the login page */
  onSessionExpired?: (error: ApiError) => void;
  /** the wx API (default: the global `wx`) */
  wx?: WxApi;
}

export interface CallOptions {
  /**
   * The Idempotency-Key to send. By default the client makes one per call and reuses it for its own
   * retries; pass your own (from `newIdempotencyKey()`) to make a user's "retry" button safe too.
   */
  idempotencyKey?: string;
  headers?: Record<string, string>;
  timeoutMs?: number;
}

/** `request(key)` may omit the request when nothing in it is required. */
export type CallArgs<K extends OperationKey> = {} extends RequestOf<K>
  ? [request?: RequestOf<K>, options?: CallOptions]
  : [request: RequestOf<K>, options?: CallOptions];

export type HttpMethod = OperationMeta["method"];

/** A request to a path types.ts does not know (yet). */
export interface RawRequest extends CallOptions {
  method: HttpMethod;
  /** "/api/v1/..." */
  path: string;
  query?: Record<string, unknown>;
  body?: unknown;
  /** send the bearer token (default true) */
  auth?: boolean;
  /** send an Idempotency-Key (default false; true when `idempotencyKey` is given) */
  idempotent?: boolean;
}

export interface UploadOptions extends CallOptions {
  /** local path of the file, e.g. from `wx.chooseMedia` */
  filePath: string;
  /** multipart field name (default "file") */
  name?: string;
  /** other multipart fields */
  formData?: Record<string, string>;
  query?: Record<string, unknown>;
  /** send the bearer token (default true) */
  auth?: boolean;
  /** send an Idempotency-Key (default true: an upload creates something) */
  idempotent?: boolean;
}

interface RequestParts {
  path?: Record<string, string | number>;
  query?: Record<string, unknown>;
  headers?: Record<string, string>;
  body?: unknown;
}

interface Attempt {
  method: HttpMethod;
  url: string;
  body?: unknown;
  headers: Record<string, string>;
  auth: boolean;
  idempotencyKey?: string;
  timeoutMs: number;
  upload?: { filePath: string; name: string; formData?: Record<string, string> };
}

interface RawResponse {
  statusCode: number;
  data: unknown;
}

const REFRESH_PATH = OPERATIONS["POST /api/v1/auth/refresh"].path;

export class LinliClient {
  private readonly baseUrl: string;
  private readonly api: WxApi;
  private readonly storage: TokenStorage;
  private readonly timeoutMs: number;
  private readonly networkRetries: number;
  private readonly makeKey: () => string;
  private readonly onSessionExpired?: (error: ApiError) => void;
  private language: string | (() => string);
  /** the refresh in flight, shared by every request that got `token_expired` meanwhile */
  private refreshing: Promise<void> | null = null;

  constructor(options: ClientOptions) {
    const api = options.wx ?? globalWx();
    if (!api) throw new Error("LinliClient: no `wx` global; pass options.wx");
    this.api = api;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.storage = options.storage ?? wxTokenStorage(api);
    this.language = options.language ?? "zh-CN";
    this.timeoutMs = options.timeoutMs ?? 15000;
    this.networkRetries = Math.max(0, options.networkRetries ?? 1);
    this.makeKey = options.uuid ?? (() => uuid4());
    this.onSessionExpired = options.onSessionExpired;
  }

  // ---- typed calls ------------------------------------------------------------------------------

  /** Call an operation of types.ts by its "METHOD /path" key. */
  request<K extends OperationKey>(key: K, ...args: CallArgs<K>): Promise<ResponseOf<K>> {
    const [request, options = {}] = args;
    const meta: OperationMeta = OPERATIONS[key];
    const parts = (request ?? {}) as RequestParts;
    return this.execute<ResponseOf<K>>({
      method: meta.method,
      url: this.url(fillPath(meta.path, parts.path), parts.query),
      body: parts.body,
      headers: { ...parts.headers, ...options.headers },
      auth: meta.auth,
      idempotencyKey: meta.idempotencyKey || options.idempotencyKey ? (options.idempotencyKey ?? this.makeKey()) : undefined,
      timeoutMs: options.timeoutMs ?? this.timeoutMs,
    });
  }

  /** Call a path types.ts does not describe; `T` is the caller's promise about the response. */
  raw<T = unknown>(request: RawRequest): Promise<T> {
    const idempotent = request.idempotent ?? request.idempotencyKey !== undefined;
    return this.execute<T>({
      method: request.method,
      url: this.url(request.path, request.query),
      body: request.body,
      headers: { ...request.headers },
      auth: request.auth ?? true,
      idempotencyKey: idempotent ? (request.idempotencyKey ?? this.makeKey()) : undefined,
      timeoutMs: request.timeoutMs ?? this.timeoutMs,
    });
  }

  /** Upload a local file as multipart/form-data (wx.uploadFile), with the same auth, retry and errors. */
  uploadFile<T = unknown>(path: string, options: UploadOptions): Promise<T> {
    const idempotent = options.idempotent ?? true;
    return this.execute<T>({
      method: "POST",
      url: this.url(path, options.query),
      headers: { ...options.headers },
      auth: options.auth ?? true,
      idempotencyKey: idempotent ? (options.idempotencyKey ?? this.makeKey()) : undefined,
      timeoutMs: options.timeoutMs ?? this.timeoutMs,
      upload: { filePath: options.filePath, name: options.name ?? "file", formData: options.formData },
    });
  }

  /** A fresh Idempotency-Key, to reuse across a person's own retries of one action. */
  newIdempotencyKey(): string {
    return this.makeKey();
  }

  // ---- session ----------------------------------------------------------------------------------

  /** wx.login → POST /api/v1/auth/wechat-login; keeps the tokens. The first login creates the resident. */
  async loginWithWechat(): Promise<Token> {
    const code = await this.wxLoginCode();
    const token = await this.request("POST /api/v1/auth/wechat-login", { body: { code } });
    this.setTokens(token);
    return token;
  }

  /** Ends the session here and on the server (best effort: the local tokens are gone either way). */
  async logout(): Promise<void> {
    const refreshToken = this.storage.get(REFRESH_TOKEN_KEY);
    this.clearTokens();
    if (!refreshToken) return;
    try {
      await this.request("POST /api/v1/auth/logout", { body: { refresh_token: refreshToken } });
    } catch {
      // already expired or offline: nothing more to do
    }
  }

  isLoggedIn(): boolean {
    return this.storage.get(REFRESH_TOKEN_KEY) !== null;
  }

  setTokens(token: Pick<Token, "access_token" | "refresh_token">): void {
    this.storage.set(ACCESS_TOKEN_KEY, token.access_token);
    this.storage.set(REFRESH_TOKEN_KEY, token.refresh_token);
  }

  clearTokens(): void {
    this.storage.remove(ACCESS_TOKEN_KEY);
    this.storage.remove(REFRESH_TOKEN_KEY);
  }

  setLanguage(language: string | (() => string)): void {
    this.language = language;
  }

  // ---- the engine -------------------------------------------------------------------------------

  private async execute<T>(attempt: Attempt): Promise<T> {
    const safe = attempt.method === "GET" || attempt.method === "HEAD" || attempt.idempotencyKey !== undefined;
    let networkRetriesLeft = safe ? this.networkRetries : 0;
    let refreshed = false;
    for (;;) {
      if (attempt.auth && this.refreshing) {
        // a refresh is under way: wait for it rather than send a token about to be replaced
        await this.refreshing.catch(() => undefined);
      }
      const accessToken = attempt.auth ? this.storage.get(ACCESS_TOKEN_KEY) : null;
      let response: RawResponse;
      try {
        response = await this.send(attempt, accessToken);
      } catch (error) {
        if (error instanceof ApiError && error.isNetworkError && networkRetriesLeft > 0) {
          networkRetriesLeft--;
          continue; // same attempt, same Idempotency-Key
        }
        throw error;
      }
      if (response.statusCode >= 200 && response.statusCode < 300) {
        return parseBody(response.data) as T;
      }
      const error = this.toError(response);
      if (attempt.auth && accessToken && !refreshed && response.statusCode === 401 && error.code === "token_expired") {
        refreshed = true;
        await this.refreshTokens(accessToken);
        continue; // once, with the new token and the same Idempotency-Key
      }
      throw error;
    }
  }

  /** Single-flight refresh: every caller that saw `staleToken` expire shares one POST /auth/refresh. */
  private refreshTokens(staleToken: string): Promise<void> {
    const current = this.storage.get(ACCESS_TOKEN_KEY);
    if (current !== null && current !== staleToken && !this.refreshing) {
      return Promise.resolve(); // someone else already refreshed while this request was out
    }
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().then(
        () => {
          this.refreshing = null;
        },
        (error: unknown) => {
          this.refreshing = null;
          throw error;
        },
      );
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const refreshToken = this.storage.get(REFRESH_TOKEN_KEY);
    if (!refreshToken) {
      const error = this.clientError("not_logged_in", 401);
      this.endSession(error);
      throw error;
    }
    let token: Token;
    try {
      // Never retried after a network failure: a refresh token works once, and a second use of it
      // (if the first did reach the server) revokes the whole session.
      token = await this.execute<Token>({
        method: "POST",
        url: this.url(REFRESH_PATH),
        body: { refresh_token: refreshToken },
        headers: {},
        auth: false,
        timeoutMs: this.timeoutMs,
      });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) this.endSession(error);
      throw error;
    }
    this.setTokens(token);
  }

  private endSession(error: ApiError): void {
    this.clearTokens();
    if (this.onSessionExpired) this.onSessionExpired(error);
  }

  private send(attempt: Attempt, accessToken: string | null): Promise<RawResponse> {
    const header: Record<string, string> = {
      Accept: "application/json",
      "Accept-Language": this.acceptLanguage(),
      ...attempt.headers,
    };
    if (accessToken) header.Authorization = `Bearer ${accessToken}`;
    if (attempt.idempotencyKey) header["Idempotency-Key"] = attempt.idempotencyKey;
    return new Promise<RawResponse>((resolve, reject) => {
      const fail = (error: WxError) => reject(this.clientError("network_error", 0, error.errMsg));
      if (attempt.upload) {
        this.api.uploadFile({
          url: attempt.url,
          filePath: attempt.upload.filePath,
          name: attempt.upload.name,
          formData: attempt.upload.formData,
          header,
          timeout: attempt.timeoutMs,
          success: (result) => resolve({ statusCode: result.statusCode, data: result.data }),
          fail,
        });
        return;
      }
      const hasBody = attempt.body !== undefined;
      if (hasBody) header["Content-Type"] = "application/json";
      // wx.request cannot send PATCH: send POST and name the real method; the server routes it as such.
      let method = attempt.method;
      if (method === "PATCH") {
        header["X-HTTP-Method-Override"] = "PATCH";
        method = "POST";
      }
      this.api.request({
        url: attempt.url,
        method: method as WxRequestMethod,
        data: hasBody ? JSON.stringify(attempt.body) : undefined,
        header,
        timeout: attempt.timeoutMs,
        dataType: "json",
        responseType: "text",
        success: (result) => resolve({ statusCode: result.statusCode, data: result.data }),
        fail,
      });
    });
  }

  private toError(response: RawResponse): ApiError {
    const data = parseBody(response.data);
    if (isErrorBody(data)) {
      const errors = typeof data.errors === "object" && data.errors !== null ? data.errors : {};
      return new ApiError(data.code, data.message, response.statusCode, errors);
    }
    // Not our error shape: a gateway or proxy answered. Name it by status, in the person's language.
    const byStatus: Record<number, ErrorCode> = {
      401: "unauthorized",
      403: "forbidden",
      404: "not_found",
      413: "payload_too_large",
      429: "too_many_requests",
      502: "service_unavailable",
      503: "service_unavailable",
      504: "service_unavailable",
    };
    const code = byStatus[response.statusCode];
    if (code) return new ApiError(code, this.localMessage(code), response.statusCode);
    return this.clientError("bad_response", response.statusCode);
  }

  private clientError(code: ClientErrorCode, status: number, detail?: string): ApiError {
    const message = this.localMessage(code);
    return new ApiError(code, detail ? `${message} (${detail})` : message, status);
  }

  private localMessage(code: ErrorCode | ClientErrorCode): string {
    const entry = isErrorCode(code) ? ERRORS[code] : CLIENT_MESSAGES[code as ClientErrorCode];
    const text = this.acceptLanguage().toLowerCase().startsWith("en") ? entry.en : entry.zh;
    return text.replace(/\{[a-z_]+\}/g, "-");
  }

  private acceptLanguage(): string {
    return typeof this.language === "function" ? this.language() : this.language;
  }

  private url(path: string, query?: Record<string, unknown>): string {
    return this.baseUrl + path + encodeQuery(query);
  }

  private wxLoginCode(): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      this.api.login({
        success: (result) =>
          result.code ? resolve(result.code) : reject(this.clientError("wx_login_failed", 0, result.errMsg)),
        fail: (error) => reject(this.clientError("wx_login_failed", 0, error.errMsg)),
      });
    });
  }
}

// ---- helpers ------------------------------------------------------------------------------------

function parseBody(data: unknown): unknown {
  if (typeof data !== "string") return data;
  if (data === "") return undefined;
  try {
    return JSON.parse(data) as unknown;
  } catch {
    return data;
  }
}

/** "/api/v1/areas/{area_id}/rooms" + {area_id: "x"} → "/api/v1/areas/x/rooms" */
export function fillPath(template: string, params: Record<string, string | number> = {}): string {
  return template.replace(/\{([^}]+)\}/g, (_match, name: string) => {
    const value = params[name];
    if (value === undefined || value === null || value === "") {
      throw new TypeError(`path parameter ${name} is missing for ${template}`);
    }
    return encodeURIComponent(String(value));
  });
}

/** `?a=1&b=x` from an object; undefined and null are left out, arrays repeat the name. */
export function encodeQuery(query?: Record<string, unknown>): string {
  if (!query) return "";
  const parts: string[] = [];
  for (const name of Object.keys(query).sort()) {
    const value = query[name];
    const values = Array.isArray(value) ? value : [value];
    for (const item of values) {
      if (item === undefined || item === null) continue;
      parts.push(`${encodeURIComponent(name)}=${encodeURIComponent(String(item))}`);
    }
  }
  return parts.length ? `?${parts.join("&")}` : "";
}
