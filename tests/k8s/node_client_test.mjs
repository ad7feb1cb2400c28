// npm's @kubernetes/client-node against the fake API server: an informer (list, then watch
// from the list's resourceVersion, relist after 410) on the EndpointSlices of namespace
// "node". Prints one line per event ("started", "add NAME", "update NAME FIRST_ADDRESS",
// "delete NAME", "error MESSAGE") for clients_test.py, and exits 0 when stdin closes.
// Usage: node node_client_test.mjs CLIENT_NODE_DIR (with KUBECONFIG set).
import path from 'node:path';

const dir = process.argv[2];
const k8s = await import(
    path.join(dir, 'node_modules/@kubernetes/client-node/dist/index.js'));
const kc = new k8s.KubeConfig();
kc.loadFromDefault();
const api = kc.makeApiClient(k8s.DiscoveryV1Api);
const informer = k8s.makeInformer(
    kc, '/apis/discovery.k8s.io/v1/namespaces/node/endpointslices',
    () => api.listNamespacedEndpointSlice({namespace: 'node'}));
const first = (obj) => obj.endpoints?.[0]?.addresses?.[0] ?? '';
informer.on('add', (obj) => console.log(`add ${obj.metadata.name}`));
informer.on('update', (obj) => console.log(`update ${obj.metadata.name} ${first(obj)}`));
informer.on('delete', (obj) => console.log(`delete ${obj.metadata.name}`));
let restarts = 0;
informer.on('error', (err) => {
  // A cut connection stops the informer; restart it (bounded), as its users do.
  console.log(`error ${String(err?.message ?? err).split('\n')[0]}`);
  if (++restarts <= 20) setTimeout(() => informer.start(), 200);
});
await informer.start();
console.log('started');
process.stdin.resume();
process.stdin.on('end', async () => {
  await informer.stop();
  process.exit(0);
});
setTimeout(() => process.exit(3), 60000).unref();
