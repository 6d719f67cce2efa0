// SPDX-License-Identifier: MIT
// The one error base of mcr's TypeScript side: every failure it raises on purpose carries a
// `code` (the control protocol's, e.g. EINVAL, or an errno name), so callers branch on the code
// and print the message, never parse it.
export class McrError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
