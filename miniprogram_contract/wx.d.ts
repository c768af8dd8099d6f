// The ambient `wx` global, typed with only what client.ts uses (see `WxApi` there), so the contract
// type-checks without the official `miniprogram-api-typings` package. In a mini-program project that
// already uses those typings, leave this file out: they declare `wx` themselves, and client.ts reads the
// global through a cast to `WxApi`.

declare const wx: import("./client").WxApi;
