import { coreScriptsDifferential } from '@redbrick/testkit';

// Memory against memory: catches a local body that is not deterministic or not atomic.
coreScriptsDifferential();
