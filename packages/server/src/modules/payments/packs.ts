import { eq } from 'drizzle-orm';
import type { Database } from '../../db/client.js';
import { AppError } from '../../errors.js';
import type { CreditPack } from './config.js';
import { creditPacks } from './tables.js';

/** The packs on sale: those of webox.config.yaml, with admin changes from the database winning by id. */
export async function listPacks(
  db: Database,
  configured: readonly CreditPack[],
  options: { includeInactive?: boolean } = {},
): Promise<CreditPack[]> {
  const overrides = await db.select().from(creditPacks);
  const byId = new Map<string, CreditPack>(configured.map((pack) => [pack.id, pack]));
  for (const row of overrides) {
    byId.set(row.id, {
      id: row.id,
      name: row.name,
      credits: row.credits,
      prices: row.prices,
      active: row.active,
    });
  }
  return [...byId.values()]
    .filter((pack) => options.includeInactive || pack.active)
    .sort((a, b) => a.credits - b.credits || a.id.localeCompare(b.id));
}

export async function getPack(
  db: Database,
  configured: readonly CreditPack[],
  packId: string,
): Promise<CreditPack> {
  const pack = (await listPacks(db, configured)).find((candidate) => candidate.id === packId);
  if (!pack) throw new AppError('not_found', 'No such credit pack.');
  return pack;
}

/** Creates or replaces an admin pack (it overrides a configured pack of the same id). */
export async function savePack(db: Database, pack: CreditPack): Promise<CreditPack> {
  const values = {
    id: pack.id,
    name: pack.name,
    credits: pack.credits,
    prices: pack.prices,
    active: pack.active,
    updatedAt: new Date(),
  };
  await db.insert(creditPacks).values(values).onConflictDoUpdate({ target: creditPacks.id, set: values });
  const [row] = await db.select().from(creditPacks).where(eq(creditPacks.id, pack.id));
  return { id: row!.id, name: row!.name, credits: row!.credits, prices: row!.prices, active: row!.active };
}
