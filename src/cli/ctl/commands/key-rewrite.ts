/** Registers `kvstore ctl key-rewrite` (implemented in ../key-rewrite.ts). */
import { keyRewriteCtlCommand } from '../key-rewrite';
import { registerCtlCommand } from '../registry';

registerCtlCommand(keyRewriteCtlCommand);
