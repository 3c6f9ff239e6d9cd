"use client";

import type { ReactNode } from "react";
import { QueryParamPage } from "./QueryParamPage";
import { EmptyState } from "./ui";

/**
 * A page about the queue named by `?name=`. Queues named "." and ".." are valid, but a
 * browser resolves them out of every URL (even as %2E), so no API call can name them.
 */
export function QueueParamPage({ render }: { render: (queue: string) => ReactNode }) {
  return (
    <QueryParamPage
      param="name"
      missing="No queue given"
      render={(name) =>
        name === "." || name === ".." ? (
          <EmptyState title={`The queue “${name}” cannot be opened in a browser`}>
            Browsers rewrite “.” and “..” out of URLs, so its API calls cannot reach it. Use rivetqctl or an SDK, e.g.{" "}
            <code>rivetqctl stats -q {name}</code>.
          </EmptyState>
        ) : (
          render(name)
        )
      }
    />
  );
}
