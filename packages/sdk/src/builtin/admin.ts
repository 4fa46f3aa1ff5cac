import { type AdminViewName, type EventProps, type TrackFunction, withExtra } from './types.js';

export interface AdminViewInput {
  view: AdminViewName;
  adminUser?: string;
  signalId?: string;
  props?: EventProps;
}

/** Admin activity: `admin.view`. */
export interface AdminTelemetry {
  /**
   * Records that an admin opened a screen or expanded something.
   *
   * @example
   * ```ts
   * client.admin.view({ view: 'signal_detail_open', adminUser: 'a_7', signalId: 's_81' });
   * ```
   */
  view(input: AdminViewInput): void;
}

export function adminTelemetry(track: TrackFunction): AdminTelemetry {
  return {
    view(input) {
      try {
        track(
          'admin.view',
          withExtra(
            { view: input.view, admin_user: input.adminUser, signal_id: input.signalId },
            input.props,
          ),
        );
      } catch {
        // a hostile input object: nothing to record
      }
    },
  };
}
