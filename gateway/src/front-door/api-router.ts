// Every API route table is case-sensitive and strict: a path matches its route exactly as written, so the
// guards in front of the routes (which compare paths exactly) always see what the router will serve.
import { Router } from 'express';

export function apiRouter(): Router {
  return Router({ caseSensitive: true, strict: true });
}
