/**
 * Admin API endpoints of the import (registered by primary-plugin.ts):
 *   POST /import          ImportRequest            start (202, ImportInfo); 409 if one runs
 *   GET  /import                                   {import: ImportInfo | null} (the running or last one)
 *   POST /import/cutover                           ask for the end (202, ImportInfo); 409 before the full pass is done
 *   POST /import/cancel                            stop now, keys copied so far stay (200, ImportInfo)
 */
import { AdminReply, AdminRoutes, mapErrorCode } from '../admin/AdminServer';
import type { ImportManager } from './ImportManager';
import type { ImportRequest } from './types';

export function registerImportRoutes(admin: AdminRoutes, imports: ImportManager): void {
  mapErrorCode('E_IMPORT_STATE', 409);
  mapErrorCode('E_IMPORT_SOURCE', 409);
  mapErrorCode('E_IMPORT_WRITE', 502);
  admin.route('POST', '/import', (req) => AdminReply.json(imports.start((req.body ?? {}) as ImportRequest), 202));
  admin.route('GET', '/import', () => ({ import: imports.status() }));
  admin.route('POST', '/import/cutover', () => AdminReply.json(imports.requestCutover(), 202));
  admin.route('POST', '/import/cancel', async () => imports.cancel());
}
