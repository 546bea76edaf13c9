import { RemovalPolicy } from "aws-cdk-lib";
import { BillingMode, TableEncryption, type TableProps } from "aws-cdk-lib/aws-dynamodb";

/**
 * What every chat table shares: on-demand billing, point-in-time recovery, the AWS managed key, and kept when it
 * leaves the stack unless told otherwise (both hold what users wrote or who they are).
 */
export const chatTableSettings = (
  removalPolicy: RemovalPolicy = RemovalPolicy.RETAIN,
): Pick<TableProps, "billingMode" | "pointInTimeRecoverySpecification" | "encryption" | "removalPolicy"> => ({
  billingMode: BillingMode.PAY_PER_REQUEST,
  pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
  encryption: TableEncryption.AWS_MANAGED,
  removalPolicy,
});
