// The reminder step the way many teams build it today: one BullMQ delayed
// job per case on Redis (append-only file, fsync every second). Each job
// reads the case, renders the SMS, and in one MULTI moves the state,
// appends a journal entry and queues the message — the same writes as
// recoup's sweep step. Prints "peer_jobs_per_s N jobs/s".
//
// usage: node peer.js REDIS_PORT CASES
import { Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';

const port = Number(process.argv[2]);
const cases = Number(process.argv[3] || 100000);
const connection = { host: '127.0.0.1', port, maxRetriesPerRequest: null };
const redis = new IORedis(connection);
const money = new Intl.NumberFormat('zh-CN', { style: 'currency', currency: 'CNY' });

await redis.flushall();
for (let i = 0; i < cases; i += 1000) {
  const batch = redis.pipeline();
  for (let j = i; j < Math.min(i + 1000, cases); j++) {
    batch.hset(`case:${j}`, { state: 'due', balance: 100000 + j, amount_due: 50000 + (j % 1000),
                              name: `借款人${j}`, dpd: j % 28 });
  }
  await batch.exec();
}

const queue = new Queue('reminders', { connection });
for (let i = 0; i < cases; i += 1000) {
  const jobs = [];
  for (let j = i; j < Math.min(i + 1000, cases); j++)
    jobs.push({ name: 'remind', data: { id: j }, opts: { delay: 1000, removeOnComplete: true } });
  await queue.addBulk(jobs);
}

let done = 0, first = 0;
const finished = new Promise((resolve) => {
  const worker = new Worker('reminders', async (job) => {
    const key = `case:${job.data.id}`;
    const c = await redis.hgetall(key);
    if (Number(c.balance) <= 0) return;
    const body = `${c.name}您好，您的借款已逾期${c.dpd}天，应还${money.format(c.amount_due / 100)}。`;
    await redis.multi()
      .hset(key, 'state', 'reminded')
      .lpush(`journal:${job.data.id}`, JSON.stringify({ from: 'due', to: 'reminded', at: Date.now() }))
      .lpush('outbox', JSON.stringify({ case: job.data.id, body, status: 'queued' }))
      .exec();
  }, { connection, concurrency: 64 });
  worker.on('completed', () => {
    if (!first) first = performance.now();
    if (++done === cases) resolve(worker);
  });
});
const worker = await finished;
const seconds = (performance.now() - first) / 1000;
console.log(`peer_jobs_per_s ${Math.round(cases / seconds)} jobs/s`);
await worker.close();
await queue.close();
await redis.quit();
