// SPDX-License-Identifier: MIT
// The control socket both mcrd and mcrctl use when none is given: $MCR_CONTROL_SOCKET when set
// and not empty, else /run/mcr/mcrd.sock (the systemd RuntimeDirectory convention).
export const DEFAULT_CONTROL_SOCKET = '/run/mcr/mcrd.sock';

export function defaultControlSocket(): string {
  const fromEnv = process.env.MCR_CONTROL_SOCKET;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_CONTROL_SOCKET;
}
