import { usePostgres } from '../../test/postgres.js';
import { openPostgresStore } from '../postgres/index.js';
import { runMetadataContract } from './index.js';

const postgres = usePostgres();

runMetadataContract({
  name: 'postgres',
  newStore: async () => openPostgresStore({ url: await postgres.fresh() }),
});
