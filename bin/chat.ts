import { App, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { ConfigurationError } from "../core/errors.js";
import { ChatStack } from "../lib/chat-stack.js";

const app = new App();
try {
  new ChatStack(app, "ServerlessChat", {
    description: "Serverless chat: API Gateway WebSocket API, Lambda and DynamoDB, signed in with SuperTokens",
  });
} catch (error) {
  // A settings mistake is the user's to fix: show the message, not a stack trace.
  if (!(error instanceof ConfigurationError)) throw error;
  console.error(`Error: ${error.message}`);
  process.exit(1);
}
// cdk-nag runs as a validation plugin at synth: an unacknowledged finding fails `cdk synth`.
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
