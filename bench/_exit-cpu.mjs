// Loaded with `node --import` by bench/startup.ts into a process that exits by itself (the CLI): reports the
// CPU time it used (user + system, ms) on stderr as its last line, since /proc is gone once it has exited.
process.on('exit', () => {
  const { user, system } = process.cpuUsage();
  process.stderr.write(`\nbench-cpu-ms ${((user + system) / 1000).toFixed(1)}\n`);
});
