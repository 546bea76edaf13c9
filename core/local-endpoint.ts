// Local endpoints (sandbox, DynamoDB Local, dynalite) accept any credentials; fixed ones keep local runs
// independent of the user's AWS setup.
export const LOCAL_ENDPOINT_SETTINGS = {
  region: "local",
  credentials: { accessKeyId: "local", secretAccessKey: "local" },
};
