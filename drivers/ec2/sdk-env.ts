/**
 * Imported before the AWS SDK anywhere in this driver: the SDK warns at load
 * time that Node 20 will lose support, which is noise in every log and test
 * run on our supported runtime. An operator's explicit setting wins.
 */
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
