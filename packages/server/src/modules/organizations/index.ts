// The organisations module's service API for other modules (the gateway's key routes check membership here).
export {
  erasedMembers,
  forgetInvitee,
  getMembership,
  type Membership,
  type MembershipsEndReason,
  organizationWallet,
  removeAllMemberships,
  requireMembership,
} from './service.js';
export { type OrganizationRole, organizationRoles } from './tables.js';
