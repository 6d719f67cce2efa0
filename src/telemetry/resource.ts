// SPDX-License-Identifier: MIT
// The OpenTelemetry resource both signals carry: service.name, service.version and the
// configured attributes. Loaded only when telemetry is on (src/telemetry/index.ts).
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { packageVersion } from '../lib/version';
import type { TelemetrySettings } from './settings';

export function telemetryResource(settings: TelemetrySettings): Resource {
  return resourceFromAttributes({
    'service.version': packageVersion(),
    ...settings.resourceAttributes,
    'service.name': settings.serviceName,
  });
}
