import test from 'ava';
import { ReferenceHotPath } from '../../src/native/reference/ReferenceHotPath';
import { REPLY_CASES, WIRE_CASES, runReplyCases, runWireCases } from './wire-cases';

test('reference: wire-string table, unsplit, at every split point and byte by byte', (t) => {
  runWireCases(t, new ReferenceHotPath(), WIRE_CASES);
});

test('reference: reply framing at every split point', (t) => {
  runReplyCases(t, new ReferenceHotPath(), REPLY_CASES);
});
