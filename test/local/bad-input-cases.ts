/**
 * Generated bad requests for POST /orders: every one must be answered 4xx with a JSON error and write
 * nothing. Built from one valid order by breaking one thing at a time.
 */
export interface BadRequest {
  name: string;
  headers: Record<string, string>;
  body: string;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export const VALID_ORDER = {
  customerId: 'api',
  items: [
    { sku: 'API-1', quantity: 1 },
    { sku: 'API-2', quantity: 2 },
  ],
  shippingAddress: { line1: '1 Main St', city: 'Springfield', postalCode: '12345', country: 'US' },
};

const JSON_HEADERS = { 'content-type': 'application/json' };

/** A deep copy of the valid order with the value at `path` replaced, or removed when `value` is undefined. */
function withValue(path: (string | number)[], value: Json | undefined): Json {
  const copy = JSON.parse(JSON.stringify(VALID_ORDER)) as Json;
  let parent = copy as Record<string | number, Json>;
  for (const segment of path.slice(0, -1)) parent = parent[segment] as Record<string | number, Json>;
  const last = path.at(-1) as string | number;
  if (value === undefined) delete parent[last];
  else parent[last] = value;
  return copy;
}

const WRONG_TYPES: Record<string, Json[]> = {
  string: [null, 0, 12.5, true, [], {}],
  integer: [null, '1', 1.5, true, [], {}, '１'],
  array: [null, 'API-1', 1, true, {}],
  object: [null, 'x', 1, true, []],
};

const FIELDS: { path: (string | number)[]; type: keyof typeof WRONG_TYPES; required: boolean }[] = [
  { path: ['customerId'], type: 'string', required: true },
  { path: ['items'], type: 'array', required: true },
  { path: ['items', 0], type: 'object', required: true },
  { path: ['items', 0, 'sku'], type: 'string', required: true },
  { path: ['items', 0, 'quantity'], type: 'integer', required: true },
  { path: ['shippingAddress'], type: 'object', required: true },
  { path: ['shippingAddress', 'line1'], type: 'string', required: true },
  { path: ['shippingAddress', 'line2'], type: 'string', required: false },
  { path: ['shippingAddress', 'city'], type: 'string', required: true },
  { path: ['shippingAddress', 'postalCode'], type: 'string', required: true },
  { path: ['shippingAddress', 'country'], type: 'string', required: true },
];

const OUT_OF_RANGE: [string, (string | number)[], Json][] = [
  ['quantity 0', ['items', 0, 'quantity'], 0],
  ['quantity -1', ['items', 0, 'quantity'], -1],
  ['quantity 101', ['items', 0, 'quantity'], 101],
  ['quantity 1e9', ['items', 0, 'quantity'], 1e9],
  ['quantity 2^53', ['items', 0, 'quantity'], 2 ** 53],
  ['no items', ['items'], []],
  ['21 items', ['items'], Array.from({ length: 21 }, (_, index) => ({ sku: `SKU-${index}`, quantity: 1 }))],
  [
    '10,000 items',
    ['items'],
    Array.from({ length: 10_000 }, (_, index) => ({ sku: `S${index}`, quantity: 1 })),
  ],
  [
    'repeated sku',
    ['items'],
    [
      { sku: 'API-1', quantity: 1 },
      { sku: 'API-1', quantity: 2 },
    ],
  ],
  ['empty customerId', ['customerId'], ''],
  ['65-char customerId', ['customerId'], 'c'.repeat(65)],
  ['100k-char customerId', ['customerId'], 'c'.repeat(100_000)],
  ['customerId with a space', ['customerId'], 'a b'],
  ['customerId with a slash', ['customerId'], '../etc'],
  ['customerId with an accent', ['customerId'], 'josé'],
  ['customerId with NUL', ['customerId'], 'a\u0000b'],
  ['empty sku', ['items', 0, 'sku'], ''],
  ['65-char sku', ['items', 0, 'sku'], 'S'.repeat(65)],
  ['sku with emoji', ['items', 0, 'sku'], 'SKU-🚀'],
  ['sku with a newline', ['items', 0, 'sku'], 'SKU\n1'],
  ['lower-case country', ['shippingAddress', 'country'], 'us'],
  ['three-letter country', ['shippingAddress', 'country'], 'USA'],
  ['one-letter country', ['shippingAddress', 'country'], 'U'],
  ['digit country', ['shippingAddress', 'country'], '12'],
  ['accented country', ['shippingAddress', 'country'], 'ÜS'],
  ['fullwidth country', ['shippingAddress', 'country'], 'ＵＳ'],
  ['empty line1', ['shippingAddress', 'line1'], ''],
  ['201-char line1', ['shippingAddress', 'line1'], 'l'.repeat(201)],
  ['1 MB line1', ['shippingAddress', 'line1'], 'l'.repeat(1_000_000)],
  ['line1 with NUL', ['shippingAddress', 'line1'], 'a\u0000b'],
  ['line1 with a newline', ['shippingAddress', 'line1'], 'a\nb'],
  ['line1 with DEL', ['shippingAddress', 'line1'], 'a\u007fb'],
  ['line1 with an escape sequence', ['shippingAddress', 'line1'], '\u001b[31mred'],
  ['line2 with a tab', ['shippingAddress', 'line2'], 'a\tb'],
  ['201-char line2', ['shippingAddress', 'line2'], 'l'.repeat(201)],
  ['empty city', ['shippingAddress', 'city'], ''],
  ['101-char city', ['shippingAddress', 'city'], 'c'.repeat(101)],
  ['empty postalCode', ['shippingAddress', 'postalCode'], ''],
  ['21-char postalCode', ['shippingAddress', 'postalCode'], '1'.repeat(21)],
  ['unknown top-level field', ['coupon'], 'FREE'],
  ['unknown item field', ['items', 0, 'price'], 1],
  ['unknown address field', ['shippingAddress', 'planet'], 'Mars'],
  ['__proto__ field', ['__proto__'], { admin: true }],
  ['constructor field', ['constructor'], 'x'],
  ['status injection', ['status'], 'CONFIRMED'],
  ['orderId injection', ['orderId'], 'ord_00000000000000000000000000000000'],
];

/** Text that looks harmless but is not an identifier, or not printable. */
const ODD_IDENTIFIERS: [string, string][] = [
  ['zero-width space', 'API\u200b1'],
  ['right-to-left override', '\u202eAPI-1'],
  ['combining accent', 'API-e\u0301'],
  ['no-break space', 'API\u00a01'],
  ['emoji', '🛒'],
  ['CJK', '注文'],
  ['fullwidth letters', 'ＡＰＩ-1'],
  ['Cyrillic look-alike', 'АPI-1'],
];
const CONTROL_CHARACTERS = ['\u0000', '\u0001', '\u0007', '\b', '\t', '\n', '\r', '\u001b'];

const RAW_BODIES: [string, string][] = [
  ['negative zero quantity', JSON.stringify(VALID_ORDER).replace('"quantity":1', '"quantity":-0')],
  ['overflowing quantity', JSON.stringify(VALID_ORDER).replace('"quantity":1', '"quantity":1e400')],
  ['items nested in an array', JSON.stringify({ ...VALID_ORDER, items: [VALID_ORDER.items] })],
  ['empty body', ''],
  ['whitespace body', '   '],
  ['truncated JSON', '{"customerId":"api","items":['],
  ['array body', '[]'],
  ['null body', 'null'],
  ['string body', '"order"'],
  ['number body', '42'],
  ['true body', 'true'],
  ['trailing comma', '{"customerId":"api",}'],
  ['single quotes', "{'customerId':'api'}"],
  ['NaN value', '{"customerId":NaN}'],
  ['comment in JSON', '{"customerId":"api" /* x */}'],
  ['BOM before JSON', `\ufeff${JSON.stringify(VALID_ORDER)}`],
  ['two JSON documents', `${JSON.stringify(VALID_ORDER)}${JSON.stringify(VALID_ORDER)}`],
  ['lone high surrogate', JSON.stringify(VALID_ORDER).replace('1 Main St', '\\ud800 Main St')],
  ['lone low surrogate', JSON.stringify(VALID_ORDER).replace('Springfield', 'Spring\\udc00field')],
  ['XML body', '<order><customerId>api</customerId></order>'],
  ['form body', 'customerId=api&items=API-1'],
  ['deeply nested', `${'['.repeat(5000)}${']'.repeat(5000)}`],
];

const BAD_KEYS: [string, string | undefined][] = [
  ['missing key', undefined],
  ['empty key', ''],
  ['65-char key', 'k'.repeat(65)],
  ['10k-char key', 'k'.repeat(10_000)],
  ['key with a space', 'a b'],
  ['key with a slash', 'a/b'],
  ['key with a dot', 'a.b'],
  ['key with a colon', 'a:b'],
  ['key with unicode', 'clé'],
  ['key with a semicolon', 'a;b'],
  ['key with a quote', 'a"b'],
];

const CONTENT_TYPES = [
  'text/plain',
  'application/xml',
  'multipart/form-data',
  'application/x-www-form-urlencoded',
  'application/jsonx',
  'text/json',
];

export function badRequests(): BadRequest[] {
  const cases: BadRequest[] = [];
  // Each case has a key of its own unless it is about the key: a shared key would turn cases into replays.
  const add = (name: string, body: string, headers: Record<string, string> = JSON_HEADERS, withKey = true) =>
    cases.push({
      name,
      body,
      headers: withKey ? { ...headers, 'Idempotency-Key': `bad-${cases.length}` } : headers,
    });

  for (const field of FIELDS) {
    if (field.required)
      add(`missing ${field.path.join('.')}`, JSON.stringify(withValue(field.path, undefined)));
    for (const value of WRONG_TYPES[field.type] ?? []) {
      add(
        `${field.path.join('.')} as ${JSON.stringify(value)}`,
        JSON.stringify(withValue(field.path, value)),
      );
    }
  }
  for (const [name, path, value] of OUT_OF_RANGE) {
    const body =
      path[0] === '__proto__'
        ? JSON.stringify(VALID_ORDER).replace(/^\{/, '{"__proto__":{"admin":true},')
        : JSON.stringify(withValue(path, value));
    add(name, body);
  }
  for (const field of FIELDS.filter(
    (candidate) => candidate.path[0] === 'items' && candidate.path.length > 1,
  )) {
    const secondItem = ['items', 1, ...field.path.slice(2)];
    for (const value of WRONG_TYPES[field.type] ?? [])
      add(
        `${secondItem.join('.')} as ${JSON.stringify(value)}`,
        JSON.stringify(withValue(secondItem, value)),
      );
  }
  for (const [oddity, text] of ODD_IDENTIFIERS) {
    add(`customerId with ${oddity}`, JSON.stringify(withValue(['customerId'], text)));
    add(`sku with ${oddity}`, JSON.stringify(withValue(['items', 0, 'sku'], text)));
  }
  for (const control of CONTROL_CHARACTERS) {
    for (const field of ['line1', 'city', 'postalCode']) {
      add(
        `${field} with ${JSON.stringify(control)}`,
        JSON.stringify(withValue(['shippingAddress', field], `a${control}b`)),
      );
    }
  }
  for (const [name, body] of RAW_BODIES) add(name, body);
  for (const [name, key] of BAD_KEYS) {
    if (key === undefined) add(name, JSON.stringify(VALID_ORDER), JSON_HEADERS, false);
    else
      cases.push({
        name,
        body: JSON.stringify(VALID_ORDER),
        headers: { ...JSON_HEADERS, 'Idempotency-Key': key },
      });
  }
  for (const contentType of CONTENT_TYPES)
    add(`content type ${contentType}`, JSON.stringify(VALID_ORDER), { 'content-type': contentType });
  add('no explicit content type', JSON.stringify(VALID_ORDER), {});
  return cases;
}
