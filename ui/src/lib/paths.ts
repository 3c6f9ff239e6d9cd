// Pages take their subject from the query string: a static export has no dynamic segments.

export const overviewPath = () => "/";
export const queuePath = (name: string) => `/queue/?name=${encodeURIComponent(name)}`;
export const dlqPath = (name: string) => `/dlq/?name=${encodeURIComponent(name)}`;
export const jobPath = (id: string) => `/job/?id=${encodeURIComponent(id)}`;
