// Form validation: the same rules the API applies (docs/api.md), checked before anything is sent.

/** X-User, exactly as the API validates it. */
export const USERNAME_PATTERN = /^[A-Za-z0-9._-]{3,20}$/;

export const LIMITS = Object.freeze({
  sensors: { min: 1, max: 100 },
  readings: { min: 1, max: 1000 },
  intervalMs: { min: 200, max: 10_000 },
});

function integerIn(raw, { min, max }, label) {
  const text = String(raw ?? '').trim();
  if (!/^\d+$/.test(text)) return { error: `${label} must be a whole number between ${min} and ${max}` };
  const value = Number(text);
  if (value < min || value > max) return { error: `${label} must be between ${min} and ${max}` };
  return { value };
}

/** Whether `name` is a valid X-User. */
export function isValidUsername(name) {
  return USERNAME_PATTERN.test(String(name ?? ''));
}

/**
 * Validates the simulation form. Returns `{ ok, errors, value }`: `errors` maps a field name to a
 * sentence; `value` holds the parsed numbers when `ok`.
 */
export function validateForm({ username, sensors, readings, intervalMs }) {
  const errors = {};
  const value = {};
  if (!isValidUsername(username)) {
    errors.username = 'Username must be 3–20 characters: letters, digits, dot, underscore or dash';
  } else {
    value.username = username;
  }
  for (const [field, raw, label] of [
    ['sensors', sensors, 'Sensors'],
    ['readings', readings, 'Readings per sensor'],
    ['intervalMs', intervalMs, 'Interval (ms)'],
  ]) {
    const r = integerIn(raw, LIMITS[field], label);
    if (r.error) errors[field] = r.error;
    else value[field] = r.value;
  }
  return { ok: Object.keys(errors).length === 0, errors, value };
}

/** The run's planned duration in whole seconds (the API wants 1..=86400). */
export function plannedDurationSecs(readingsPerSensor, intervalMs) {
  return Math.min(86_400, Math.max(1, Math.ceil((readingsPerSensor * intervalMs) / 1000)));
}

/** Sensor ids of a simulation: sensor-1 … sensor-N (they match ^[A-Za-z0-9._:-]{1,64}$). */
export function sensorIds(count) {
  return Array.from({ length: count }, (_, i) => `sensor-${i + 1}`);
}
