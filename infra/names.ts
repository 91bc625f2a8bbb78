/**
 * Kept only for test/proving-ground/proving-ground.ts, which imports functionName from here;
 * the names live in shared/names.ts. Remove this file once that import points there.
 */
export { functionName } from '../shared/names.ts';
