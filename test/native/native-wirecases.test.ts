import test from 'ava';
import { NativeHotPath } from '../../src/native/NativeHotPath';
import { REPLY_CASES, WIRE_CASES, runReplyCases, runWireCases } from './wire-cases';

test('native: the shared wire-string table, unsplit, at every split point and byte by byte', (t) => {
  runWireCases(t, new NativeHotPath(), WIRE_CASES);
});

test('native: the shared reply-framing table at every split point', (t) => {
  runReplyCases(t, new NativeHotPath(), REPLY_CASES);
});
