import { useCallback, useRef } from "react";
import { useMutation, type DefaultError, type UseMutateFunction, type UseMutationOptions, type UseMutationResult } from "@tanstack/react-query";

/** Returns useMutation(options) whose mutate starts one call at a time: a
 * second mutate while the first is in flight (a double click, Enter pressed
 * twice) is dropped. Disabling the button on isPending alone is not enough:
 * the mutation's state reaches React a moment after the click, so a quick
 * second click still lands on an enabled button. */
export function useSingleMutation<TData = unknown, TError = DefaultError, TVariables = void, TOnMutateResult = unknown>(
  options: UseMutationOptions<TData, TError, TVariables, TOnMutateResult>,
): UseMutationResult<TData, TError, TVariables, TOnMutateResult> {
  const inFlight = useRef(false);
  const m = useMutation<TData, TError, TVariables, TOnMutateResult>({
    ...options,
    // The mutation's own onSettled runs even when the component is gone, and
    // after onSuccess/onError, so the next call can start once this one ended.
    onSettled: async (...args) => {
      try {
        return await options.onSettled?.(...args);
      } finally {
        inFlight.current = false;
      }
    },
  });
  const { mutate: inner } = m;
  const mutate: UseMutateFunction<TData, TError, TVariables, TOnMutateResult> = useCallback(
    (...args) => {
      if (inFlight.current) return;
      inFlight.current = true;
      inner(...args);
    },
    [inner],
  );
  return { ...m, mutate };
}
