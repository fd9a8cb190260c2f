// Lambda's filter grammar (reference §10.3) case by case, matching and not, on SQS-shaped records with JSON
// and plain-string bodies; and invalid patterns refused with the field named.
import { describe, expect, it } from 'vitest';
import { FilterPattern, FilterPatternError, filterProblems, matchesAny } from '../../apis/event-filter.ts';

/** What the SQS poller hands the filter: the record, with a JSON body parsed. */
function sqsView(body: unknown, extra: Record<string, unknown> = {}) {
  return {
    view: {
      messageId: 'm-1',
      attributes: { ApproximateReceiveCount: '1', MessageGroupId: 'g1' },
      messageAttributes: { kind: { stringValue: 'order', dataType: 'String' } },
      eventSource: 'aws:sqs',
      body,
      ...extra,
    },
    dataKey: 'body',
  };
}

const order = {
  id: 7,
  customer: { name: 'Alice', tier: 'gold', email: 'alice@example.com' },
  amount: 150,
  price: 300,
  region: 'us-east-1',
  weather: 'Sunny',
  tags: ['new', 'priority'],
  lastName: '',
  userId: null,
  items: [
    { sku: 'A1', qty: 2 },
    { sku: 'B2', qty: 5 },
  ],
};

// [name, pattern, body, expected]
const CASES: Array<[string, unknown, unknown, boolean]> = [
  ['equals string', { body: { customer: { name: ['Alice'] } } }, order, true],
  ['equals string, other value', { body: { customer: { name: ['Bob'] } } }, order, false],
  ['equals is case-sensitive', { body: { customer: { name: ['alice'] } } }, order, false],
  ['or of values', { body: { customer: { tier: ['silver', 'gold'] } } }, order, true],
  ['or of values, none', { body: { customer: { tier: ['silver', 'bronze'] } } }, order, false],
  ['number equals', { body: { amount: [150] } }, order, true],
  ['number equals, another number', { body: { price: [300.5] } }, order, false],
  ['string "150" is not number 150', { body: { amount: ['150'] } }, order, false],
  ['null matches null', { body: { userId: [null] } }, order, true],
  ['null does not match a missing field', { body: { nothing: [null] } }, order, false],
  ['empty string', { body: { lastName: [''] } }, order, true],
  ['empty string, non-empty value', { body: { region: [''] } }, order, false],
  ['anything-but a value', { body: { weather: [{ 'anything-but': ['Raining'] }] } }, order, true],
  ['anything-but excludes', { body: { weather: [{ 'anything-but': ['Sunny', 'Raining'] }] } }, order, false],
  ['anything-but a single value', { body: { weather: [{ 'anything-but': 'Sunny' }] } }, order, false],
  ['anything-but prefix', { body: { region: [{ 'anything-but': { prefix: 'eu-' } }] } }, order, true],
  [
    'anything-but prefix excludes',
    { body: { region: [{ 'anything-but': { prefix: 'us-' } }] } },
    order,
    false,
  ],
  ['numeric =', { body: { amount: [{ numeric: ['=', 150] }] } }, order, true],
  ['numeric range in', { body: { amount: [{ numeric: ['>', 100, '<=', 150] }] } }, order, true],
  ['numeric range out', { body: { amount: [{ numeric: ['>', 150, '<', 200] }] } }, order, false],
  ['numeric on a string', { body: { region: [{ numeric: ['>', 0] }] } }, order, false],
  ['exists true', { body: { customer: { email: [{ exists: true }] } } }, order, true],
  ['exists true, missing', { body: { customer: { phone: [{ exists: true }] } } }, order, false],
  ['exists false, missing', { body: { customer: { phone: [{ exists: false }] } } }, order, true],
  ['exists false, present', { body: { customer: { email: [{ exists: false }] } } }, order, false],
  [
    'exists false under a missing parent',
    { body: { shipping: { method: [{ exists: false }] } } },
    order,
    true,
  ],
  ['prefix', { body: { region: [{ prefix: 'us-' }] } }, order, true],
  ['prefix, no', { body: { region: [{ prefix: 'eu-' }] } }, order, false],
  ['suffix', { body: { customer: { email: [{ suffix: '@example.com' }] } } }, order, true],
  ['suffix, no', { body: { customer: { email: [{ suffix: '@example.org' }] } } }, order, false],
  ['equals-ignore-case', { body: { customer: { name: [{ 'equals-ignore-case': 'ALICE' }] } } }, order, true],
  [
    'equals-ignore-case, no',
    { body: { customer: { name: [{ 'equals-ignore-case': 'bob' }] } } },
    order,
    false,
  ],
  ['prefix ignoring case', { body: { region: [{ prefix: { 'equals-ignore-case': 'US-' } }] } }, order, true],
  ['wildcard', { body: { customer: { email: [{ wildcard: '*@*.com' }] } } }, order, true],
  ['wildcard, no', { body: { customer: { email: [{ wildcard: 'bob@*' }] } } }, order, false],
  ['array field: any element', { body: { tags: ['priority'] } }, order, true],
  ['array field: no element', { body: { tags: ['old'] } }, order, false],
  [
    'array of objects: nested match',
    { body: { items: { sku: ['B2'], qty: [{ numeric: ['>=', 5] }] } } },
    order,
    true,
  ],
  [
    'array of objects: fields must match in one element',
    { body: { items: { sku: ['A1'], qty: [5] } } },
    order,
    false,
  ],
  [
    'every field of a filter must match',
    { body: { region: ['us-east-1'], weather: ['Raining'] } },
    order,
    false,
  ],
  ['$or, one branch', { body: { $or: [{ region: ['eu-west-1'] }, { amount: [150] }] } }, order, true],
  ['$or, no branch', { body: { $or: [{ region: ['eu-west-1'] }, { amount: [1] }] } }, order, false],
  ['metadata field', { messageAttributes: { kind: { stringValue: ['order'] } } }, order, true],
  ['metadata field, no', { attributes: { MessageGroupId: ['g2'] } }, order, false],
  ['metadata and body together', { eventSource: ['aws:sqs'], body: { amount: [150] } }, order, true],
  // SQS bodies that are not JSON (reference §10.3).
  ['plain-string body, plain-string pattern', { body: ['hello world'] }, 'hello world', true],
  ['plain-string body, prefix', { body: [{ prefix: 'hello' }] }, 'hello world', true],
  ['plain-string body, JSON pattern: dropped', { body: { greeting: ['hello'] } }, 'hello world', false],
  ['JSON body, plain-string pattern: dropped', { body: ['hello'] }, order, false],
  ['plain-string body, metadata-only pattern', { eventSource: ['aws:sqs'] }, 'not json', true],
  ['JSON body, metadata-only pattern', { attributes: { MessageGroupId: ['g1'] } }, order, true],
];

describe('filter patterns', () => {
  it.each(CASES)('%s', (_name, pattern, body, expected) => {
    const compiled = FilterPattern.parse(JSON.stringify(pattern));
    expect(compiled.matches(sqsView(body))).toBe(expected);
  });

  it('has at least 30 cases, both matching and not', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(CASES.filter((c) => c[3]).length).toBeGreaterThan(10);
    expect(CASES.filter((c) => !c[3]).length).toBeGreaterThan(10);
  });

  it('ORs the filters of a mapping; none means everything', () => {
    const a = FilterPattern.parse('{"body":{"region":["eu-west-1"]}}');
    const b = FilterPattern.parse('{"body":{"amount":[150]}}');
    expect(matchesAny([a, b], sqsView(order))).toBe(true);
    expect(matchesAny([a], sqsView(order))).toBe(false);
    expect(matchesAny([], sqsView('anything'))).toBe(true);
  });

  it('with duplicate keys the last one wins', () => {
    const p = FilterPattern.parse('{"body":{"region":["eu-west-1"],"region":["us-east-1"]}}');
    expect(p.matches(sqsView(order))).toBe(true);
  });

  it('filters a payload that is not UTF-8 on metadata alone', () => {
    const p = FilterPattern.parse('{"eventSource":["aws:sqs"],"body":{"amount":[1]}}');
    expect(p.matches(sqsView(undefined))).toBe(true);
  });
});

// [pattern, field named]
const INVALID: Array<[string, string]> = [
  ['not json', ''],
  ['[1,2]', ''],
  ['{"body":{"price":5}}', 'body.price'],
  ['{"body":{"price":[]}}', 'body.price'],
  ['{"body":{"price":[{"numeric":[">"]}]}}', 'body.price[0].numeric'],
  ['{"body":{"price":[{"numeric":["~",5]}]}}', 'body.price[0].numeric[0]'],
  ['{"body":{"price":[{"numeric":["<",5,">",1]}]}}', 'body.price[0].numeric'],
  ['{"body":{"price":[{"numeric":[">",10,"<",5]}]}}', 'body.price[0].numeric'],
  ['{"body":{"price":[{"exists":"yes"}]}}', 'body.price[0].exists'],
  ['{"body":{"price":[{"prefix":5}]}}', 'body.price[0].prefix'],
  ['{"body":{"price":[{"between":[1,2]}]}}', 'body.price[0].between'],
  ['{"body":{"price":[{"prefix":"a","suffix":"b"}]}}', 'body.price[0]'],
  ['{"body":{"$or":[{"a":[1]}]}}', 'body.$or'],
  ['{"body":{"name":[{"wildcard":"a**b"}]}}', 'body.name[0].wildcard'],
  ['{"body":{"name":[{"anything-but":[]}]}}', 'body.name[0].anything-but'],
];

describe('invalid patterns name the field', () => {
  it.each(INVALID)('%s', (pattern, field) => {
    let error: unknown;
    try {
      FilterPattern.parse(pattern);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FilterPatternError);
    expect((error as FilterPatternError).field).toBe(field);
  });

  it('reports which filter of a mapping is wrong', () => {
    const problems = filterProblems({
      filters: [{ pattern: '{"body":{"a":["x"]}}' }, { pattern: '{"body":{"a":[{"numeric":[">"]}]}}' }],
    });
    expect(problems).toEqual([{ filter: 1, field: 'body.a[0].numeric', reason: expect.any(String) }]);
  });
});
