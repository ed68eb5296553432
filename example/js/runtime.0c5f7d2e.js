(()=>{"use strict";var e={},r={};function o(t){var n=r[t];if(void 0!==n)return n.exports;var a=r[t]={exports:{}};return e[t](a,a.exports,o),a.exports}o.m=e,o.p="/apps/example-app/",o.u=e=>"js/"+e+"."+{412:"b71c03de",977:"5e2a8f10"}[e]+".js"})();
//# sourceMappingURL=runtime.0c5f7d2e.js.map
